"""The runner's environment for a member: OpenMP capped at the member's threads, glibc keeping large blocks."""

from pipeline.parallel import MALLOC, member_env


def test_members_keep_large_blocks_unless_the_user_set_the_allocator(monkeypatch):
    for name in MALLOC:
        monkeypatch.delenv(name, raising=False)
    env = member_env(1)
    assert env["MALLOC_MMAP_MAX_"] == "0" and int(env["MALLOC_TRIM_THRESHOLD_"]) >= 2**30
    assert env["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")  # a user's own value wins
    assert member_env(1)["MALLOC_MMAP_MAX_"] == "65536"

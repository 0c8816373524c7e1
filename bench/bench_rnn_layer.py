"""Would a GRU layer with hand-written backpropagation through time save time? A prototype, not used by models/.

Measured answer (bench/results/rnn-layer-bptt.md, the EPYC, 1 thread): no. At the quick profile's decoder and
encoder sizes it took 1.04× and 1.06× nn.GRU's time for forward + backward, so batching the weight gradients over
time steps is not the lever for the quick profile's step.

Not a test. In a quick-profile training step 40% of the time is `aten::mm` at about 200 µs a call (the EPYC, torch
profiler): PyTorch's CPU GRU runs each time step as its own small ops, and autograd records them, so its backward
does per step a product for the hidden state's gradient and another for W_hh's, at batch 32. A layer that keeps
its own backward needs per step only the first: the weight gradients of all steps are one (3H × T·B) · (T·B × H)
product at the end, and the input projection and its gradient one product each over all steps.

This script times forward + backward of one GRU layer both ways at a given size, on random data, and checks that
the prototype's output and gradients match `nn.GRU`'s (to float32 rounding: the sums run in another order, so the
bits differ; adopting it would retrain every member). Single layer, one direction, no packing, no dropout: the
quick profile's decoder (fast path) is exactly that; its bidirectional encoder is two of them.

Usage: python bench/bench_rnn_layer.py [--batch 32] [--steps 16] [--input 128] [--hidden 256] [--repeat 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class GRULayerBPTT(torch.autograd.Function):
    """One GRU layer, batch first, PyTorch's gate equations (r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))
    with backpropagation through time written out: per step one (B × 3H) · (3H × H) product, the weight gradients
    of all steps at once. Written here because torch has no such CPU kernel (its fused GRU cell is CUDA-only)."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor):
        B, T, _ = x.shape
        H = h0.size(-1)
        gi = torch.addmm(b_ih, x.reshape(B * T, -1), w_ih.t()).view(B, T, 3 * H)  # (B, T, 3H): one product
        h, hs, saved = h0, [], []
        for t in range(T):
            gh = torch.addmm(b_hh, h, w_hh.t())  # (B, 3H)
            i_r, i_z, i_n = gi[:, t].chunk(3, 1)
            h_r, h_z, h_n = gh.chunk(3, 1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h_new = n + z * (h - n)  # (1 - z) n + z h
            saved.append((r, z, n, h_n))
            hs.append(h)
            h = h_new
        out = torch.stack([*hs[1:], h], 1)  # (B, T, H)
        r, z, n, h_n = (torch.stack(v, 0) for v in zip(*saved, strict=True))  # (T, B, H) each
        ctx.save_for_backward(x, torch.stack(hs, 0), w_ih, w_hh, r, z, n, h_n)
        return out, h

    @staticmethod
    def backward(ctx, d_out: Tensor, d_hT: Tensor):
        x, h_prev, w_ih, w_hh, r, z, n, h_n = ctx.saved_tensors
        T, B, H = r.shape
        d_gi, d_gh = x.new_empty(T, B, 3 * H), x.new_empty(T, B, 3 * H)
        dh = d_hT.clone()
        for t in reversed(range(T)):
            dh = dh + d_out[:, t]
            dn = dh * (1 - z[t])
            dz = dh * (h_prev[t] - n[t]) * z[t] * (1 - z[t])
            dn_pre = dn * (1 - n[t] * n[t])
            dr = dn_pre * h_n[t] * r[t] * (1 - r[t])
            d_gi[t, :, :H], d_gi[t, :, H : 2 * H], d_gi[t, :, 2 * H :] = dr, dz, dn_pre
            d_gh[t, :, :H], d_gh[t, :, H : 2 * H], d_gh[t, :, 2 * H :] = dr, dz, dn_pre * r[t]
            dh = dh * z[t] + d_gh[t] @ w_hh  # the one product per step
        gi_flat, gh_flat = d_gi.transpose(0, 1).reshape(B * T, 3 * H), d_gh.reshape(T * B, 3 * H)
        x_flat = x.reshape(B * T, -1)
        dx = (gi_flat @ w_ih).view(B, T, -1)
        dw_ih, db_ih = gi_flat.t() @ x_flat, gi_flat.sum(0)
        dw_hh, db_hh = gh_flat.t() @ h_prev.reshape(T * B, H), gh_flat.sum(0)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=16, help="time steps (the quick profile's targets: about 16)")
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from pipeline.core.calibration import calibration_line, calibration_ms
    from pipeline.core.host import host

    before = calibration_ms()
    gru = nn.GRU(a.input, a.hidden, batch_first=True)
    x = torch.randn(a.batch, a.steps, a.input, requires_grad=True)
    h0 = torch.randn(1, a.batch, a.hidden)
    g_out, g_h = torch.randn(a.batch, a.steps, a.hidden), torch.randn(1, a.batch, a.hidden)
    params = [x, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]

    def native():
        out, hT = gru(x, h0)
        return torch.autograd.grad((out, hT), params, (g_out, g_h))

    def bptt():
        out, hT = GRULayerBPTT.apply(x, h0[0], *params[1:])
        return torch.autograd.grad((out, hT), params, (g_out, g_h[0]))

    out_n, h_n = gru(x, h0)
    out_b, h_b = GRULayerBPTT.apply(x, h0[0], *params[1:])
    torch.testing.assert_close(out_b, out_n, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_b, h_n[0], rtol=1e-5, atol=1e-5)
    for name, gn, gb in zip(["x", "w_ih", "w_hh", "b_ih", "b_hh"], native(), bptt(), strict=True):
        torch.testing.assert_close(gb, gn, rtol=1e-4, atol=1e-4, msg=lambda m, name=name: f"grad {name}: {m}")
    ms_native, ms_bptt = timed(native, a.repeat), timed(bptt, a.repeat)
    h = host()
    print(f"GRU layer forward + backward, batch {a.batch}, {a.steps} steps, input {a.input}, hidden {a.hidden}, "
          f"{a.threads} thread(s), fp32; {h.cpu} ({h.isa}), torch {h.torch}; outputs and gradients match nn.GRU "
          "to 1e-4\n")  # fmt: skip
    print(f"| layer | ms (mean of {a.repeat}) | vs nn.GRU |")
    print("|---|---:|---:|")
    print(f"| nn.GRU (PyTorch's CPU kernel, autograd per step) | {ms_native:.2f} | 1.00× |")
    print(f"| hand-written BPTT, weight gradients of all steps at once | {ms_bptt:.2f} | {ms_native / ms_bptt:.2f}× |")
    print(f"\n{calibration_line(before, calibration_ms())}")


if __name__ == "__main__":
    main()

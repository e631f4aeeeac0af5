#!/usr/bin/env python3
"""Hand camera frames to PyTorch without a copy, through DLPack (optional:
needs PyTorch, which is not a tensorpool dependency and not in Debian 12).

    tp demo --duration 60 --dir /dev/shm/tp-live
    TP_DIR=/dev/shm/tp-live python3 examples/python/torch_dlpack.py

torch.from_dlpack(frame) makes a tensor over the same shared memory as
frame.array. It is valid, like the view, only until the producer reuses the
slot: compute inside the `with` block (the seqlock check on exit says whether
the result stands) or .clone() the tensor to keep it.
"""
import tensorpool as tp

try:
    import torch
except ImportError:
    raise SystemExit("this example needs PyTorch (pip install torch)")

with tp.Consumer(1) as cam:
    for n, frame in enumerate(cam):
        try:
            with frame:
                img = torch.from_dlpack(frame)  # uint8 HxWx3, no copy
                x = img.permute(2, 0, 1).float().div_(255)  # CHW float: this one is a new tensor
                print("seq %d: %s mean %.3f" % (frame.seq, tuple(img.shape), x.mean().item()))
        except tp.FrameOverwritten:
            print("seq %d overwritten while in use" % frame.seq)
        if n == 30:
            break

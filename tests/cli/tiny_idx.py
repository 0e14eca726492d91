#!/usr/bin/env python3
"""tiny_idx.py - writes a tiny IDX data set for the CLI tests: 10 classes of 8x8 images, class k
is a bright 2x2 block at one of 10 places, plus noise (seeded: the same files every run).

Usage: tiny_idx.py DIR TRAIN_IMAGES TEST_IMAGES   (writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte)
"""
import os
import random
import struct
import sys


def write(d, rnd, prefix, n):
    imgs, labels = bytearray(), bytearray()
    for _ in range(n):
        k = rnd.randrange(10)
        img = [rnd.randrange(40) for _ in range(64)]
        y, x = 1 + (k // 5) * 4, 1 + (k % 5) * 1
        for dy in range(2):
            for dx in range(2):
                img[(y + dy) * 8 + x + dx] = 200 + rnd.randrange(50)
        imgs += bytes(img)
        labels.append(k)
    with open(f"{d}/{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 8, 8) + imgs)
    with open(f"{d}/{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)


def main():
    d, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(d)
    rnd = random.Random(5)
    write(d, rnd, "train", n_train)
    write(d, rnd, "t10k", n_test)


if __name__ == "__main__":
    main()

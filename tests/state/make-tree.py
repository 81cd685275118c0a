#!/usr/bin/env python3
# make-tree.py DIR NFILES LARGE_MIB SPARSE_MIB: a state tree for the tests:
# NFILES small files in nested directories, odd names (spaces, a newline,
# UTF-8, a leading dash, a 200-byte name, a deep path), symlinks (relative,
# absolute, dangling), empty directories, modes 0600/0755/0700, owners,
# mtimes with nanoseconds, a sparse file and a large random file.
import os, random, sys

root, nfiles, large_mib, sparse_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(42)
os.makedirs(root, exist_ok=True)
for i in range(nfiles):
    d = os.path.join(root, 'projects', f'p{i % 37}', f'd{i % 11}')
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f'f{i}.jsonl')
    with open(p, 'wb') as f:
        f.write((f'{{"line": {i}, "text": "' + 'x' * rnd.randrange(0, 400) + '"}\n').encode())
    os.utime(p, ns=(1700000000_123456789 + i, 1700000000_123456789 + i * 1000))
odd = ['with space', 'new\nline', 'ütf8-日本語', '-dash', 'back\\slash', 'q"uote', 'n' * 200]
for n in odd:
    with open(os.path.join(root, n), 'w') as f:
        f.write(n)
deep = os.path.join(root, *(['deepdir-%02d' % k for k in range(12)]))
os.makedirs(deep)
with open(os.path.join(deep, 'leaf'), 'w') as f:
    f.write('deep')
os.makedirs(os.path.join(root, 'empty', 'nested-empty'))
os.symlink('projects/p1', os.path.join(root, 'rel-link'))
os.symlink('/etc/hostname', os.path.join(root, 'abs-link'))
os.symlink('does-not-exist', os.path.join(root, 'dangling'))
with open(os.path.join(root, '.credentials.json'), 'w') as f:
    f.write('{"token": "secret"}')
os.chmod(os.path.join(root, '.credentials.json'), 0o600)
os.chmod(os.path.join(root, 'with space'), 0o755)
os.chmod(os.path.join(root, 'empty'), 0o700)
os.chown(os.path.join(root, '-dash'), 1234, 2345)
with open(os.path.join(root, 'sparse'), 'wb') as f:
    f.truncate(sparse_mib * 1024 * 1024)
    f.seek(sparse_mib * 512 * 1024)
    f.write(b'middle')
with open(os.path.join(root, 'large'), 'wb') as f:
    block = os.urandom(1024 * 1024)
    for k in range(large_mib):
        f.write(block[k % 7:] + block[:k % 7])
os.utime(os.path.join(root, 'large'), ns=(1600000000_000000001, 1600000000_000000001))
os.utime(os.path.join(root, 'empty', 'nested-empty'), ns=(1500000000_5, 1500000000_5))

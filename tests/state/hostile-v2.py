#!/usr/bin/env python3
# hostile-v2.py CASE STATE_DIR OUTSIDE OUTDIR: writes the objects of an
# unencrypted v2 generation (tree, index, pack) that a restore must refuse,
# or take defused: OUTDIR/tree, OUTDIR/index, OUTDIR/pack (zstd by the CLI,
# which records the content size, as agentbox's reader requires).
#   dotdot | outside | symlink | duplicate | missing | sizes | shortpack |
#   badhash | cut   (refused)      setid (restored without set-id bits)
import hashlib, json, os, subprocess, sys

case, state, outside, out = sys.argv[1:5]
ID = '20260101T000000Z-000001'
os.makedirs(out, exist_ok=True)

def zstd(data):
    p = os.path.join(out, 'z.in')
    with open(p, 'wb') as f:
        f.write(data)
    z = subprocess.run(['zstd', '-q', '-c', p], check=True, capture_output=True).stdout
    os.unlink(p)
    return z

def esc(s):
    return ''.join('%%%02x' % ord(c) if ord(c) <= 32 or c in '%\x7f' else c for c in s)

chunk = b'evil\n'
cid = hashlib.blake2b(chunk, digest_size=32).hexdigest()
blob = b'AB2P' + zstd(chunk)
if case == 'badhash':
    blob = b'AB2P' + zstd(b'EVIL\n')  # content that does not hash to its id
pack_len = len(blob) if case != 'shortpack' else len(blob) - 3
header = {'format': 2, 'generation': ID, 'files': 2, 'bytes': 5, 'stored': len(blob),
          'tree_digest': '', 'paths': [state], 'host': 'test'}
lines = ['d 755 0 0 1700000000 0 0 ' + esc(state),
         'f 644 0 0 1700000000 0 5 %s %s' % (esc(state + '/good'), cid)]
if case == 'dotdot':
    lines.append('f 644 0 0 0 0 5 %s %s' % (esc(state + '/../../../../' + outside.lstrip('/') + '/x'), cid))
elif case == 'outside':
    lines.append('f 644 0 0 0 0 5 %s %s' % (esc(outside + '/x'), cid))
elif case == 'symlink':
    lines.append('l 777 0 0 0 0 0 %s %s' % (esc(state + '/ln'), esc(outside)))
    lines.append('f 644 0 0 0 0 5 %s %s' % (esc(state + '/ln/through'), cid))
elif case == 'duplicate':
    lines.append('f 644 0 0 0 0 5 %s %s' % (esc(state + '/good'), cid))
elif case == 'missing':
    lines.append('f 644 0 0 0 0 5 %s %s' % (esc(state + '/m'), 'ab' * 32))
elif case == 'sizes':
    lines.append('f 644 0 0 0 0 9 %s %s' % (esc(state + '/s'), cid))
elif case == 'setid':
    lines.append('f 6755 0 0 0 0 5 %s %s' % (esc(state + '/setid'), cid))
    lines.append('d 1777 0 0 0 0 0 %s' % esc(state + '/sticky'))
text = (json.dumps(header) + '\n' + '\n'.join(lines) + '\n').encode()
if case == 'cut':
    text = text[:-1]
with open(os.path.join(out, 'tree'), 'wb') as f:
    f.write(b'AB2P' + zstd(text))
with open(os.path.join(out, 'index'), 'wb') as f:
    f.write(b'AB2P' + zstd(('pack 00ff\n%s 0 %d 5\n' % (cid, len(blob))).encode()))
with open(os.path.join(out, 'pack'), 'wb') as f:
    f.write(blob[:pack_len])

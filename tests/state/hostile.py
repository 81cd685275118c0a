#!/usr/bin/env python3
# hostile.py CASE STATE_DIR OUTSIDE OUT.tar: writes an uncompressed tar that
# a restore must refuse (the test compresses it with zstd).
#   dotdot | absolute | symlink | device | outside | huge | hardlink
# and one a restore takes, but defused (no set-id bits, no foreign owners):
#   setid
# deep: a file below a path longer than PATH_MAX, then a refused entry, so
# that the clean-up must remove what was already extracted at that depth
import io, sys, tarfile

case, state, outside, out = sys.argv[1:5]
rel = state.lstrip('/')

def add(t, name, data=b'evil\n', **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if ti.type == tarfile.REGTYPE and 'size' not in kw:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)

with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    add(t, rel, type=tarfile.DIRTYPE, mode=0o755)
    add(t, rel + '/good', b'fine\n')
    if case == 'dotdot':
        add(t, rel + '/../../../../../../' + outside.lstrip('/') + '/dotdot-evil')
    elif case == 'absolute':
        add(t, outside + '/absolute-evil')
    elif case == 'symlink':
        add(t, rel + '/lnk', type=tarfile.SYMTYPE, linkname=outside)
        add(t, rel + '/lnk/symlink-evil')
    elif case == 'device':
        add(t, rel + '/null', type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif case == 'outside':
        add(t, outside.lstrip('/') + '/outside-evil')
    elif case == 'huge':
        add(t, rel + '/huge', size=1 << 50)
    elif case == 'setid':
        root = dict(uid=0, gid=0, uname='root', gname='root')
        add(t, rel + '/suid', b'#!/bin/sh\nid\n', mode=0o4755, **root)
        add(t, rel + '/sgid', mode=0o2755, **root)
        add(t, rel + '/sgid-dir', type=tarfile.DIRTYPE, mode=0o2775, **root)
        add(t, rel + '/sticky', mode=0o1644)
        add(t, rel + '/theirs', mode=0o644, uid=4321, gid=4321, uname='', gname='')
        add(t, rel + '/mine-rootgroup', mode=0o640, uid=65534, gid=0, uname='nobody',
            gname='root')
        # a file capability (cap_setuid+ep) is a set-id bit by other means
        cap = '\x01\x00\x00\x02\udc80' + '\x00' * 15
        add(t, rel + '/capable', mode=0o755,
            pax_headers={'SCHILY.xattr.security.capability': cap, 'SCHILY.xattr.user.x': 'y'})
    elif case == 'deep':
        d = rel
        for k in range(24):
            d += '/' + ('%02d' % k) * 100
            add(t, d, type=tarfile.DIRTYPE, mode=0o755)
        add(t, d + '/deep-evil')
        add(t, rel + '/null', type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif case == 'hardlink':
        add(t, rel + '/hl', type=tarfile.LNKTYPE, linkname='etc/passwd')
    else:
        sys.exit('unknown case ' + case)

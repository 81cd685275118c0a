#!/usr/bin/python3
"""Runs a command where openat2() answers ENOSYS, as under a kernel before
5.6 or a seccomp profile that predates it (Docker's, in a container), so a
test can exercise the restore's fallback lookups."""
import errno
import os
import sys

import seccomp

f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
f.add_rule(seccomp.ERRNO(errno.ENOSYS), "openat2")
f.load()
os.execvp(sys.argv[1], sys.argv[1:])

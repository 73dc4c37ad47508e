"""Scripts the tests run as separate Python processes (``python -m tests.children.X``).

A fault that kills, interrupts or orphans a process is tested from outside it: the
test starts one of these, drives it through its stdout/stdin, and reads its stderr.
"""

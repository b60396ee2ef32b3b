#!/bin/bash
# on_guest_exit = halt: ftvisor stops without powering off, says why as
# its last line, and the launcher reports the halt as a non-zero exit.
. "$(dirname "$0")/lib.sh"
image halt <<'CONF'
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.1.0.1
netmask = 255.255.255.0
[debug]
host = alpha
on_guest_exit = halt
CONF
boot bochs halt --timeout 60
expect "VT-x line" 'vmx: present=yes'
expect_last "halt reason is the last line" '^ftvisor: halted: no guest configured$'
expect_rc "launcher exit 4 for a halt" 4
expect_reason "launcher says why" 'ftvisor halted: no guest configured'

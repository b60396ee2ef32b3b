#!/bin/bash
# One image serves both hosts of a pair: "this host" is the [host] whose MAC
# belongs to one of the machine's NICs. QEMU's e1000 has a UEFI driver
# (iPXE), so the loader reports its MAC; no [debug] host is set here.
. "$(dirname "$0")/lib.sh"
image pair <<'CONF'
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
[host beta]
mac = 52:54:00:00:00:02
ip = 10.0.0.2
netmask = 255.255.255.0
[debug]
exit_port = 0xf4
CONF
boot qemu pair --timeout 60 --net e1000,52:54:00:00:00:02,user
expect "loader saw the NIC" 'ftvisor loader: .* 1 NIC with UEFI drivers'
expect "beta found by MAC" 'config: host beta: mac 52:54:00:00:00:02 ip 10\.0\.0\.2/24 gateway none \(this host\)'
expect_not "alpha is not this host" 'host alpha: .*this host'
expect_rc "clean power-off" 0
boot qemu pair --timeout 60 --net e1000,52:54:00:00:00:01,user
expect "alpha found by MAC on the other machine" 'config: host alpha: mac 52:54:00:00:00:01 .*\(this host\)'
boot qemu pair --timeout 60 --net e1000,52:54:00:00:00:07,user
expect "unknown machine stops with the MACs it has" 'ftvisor\.conf: no \[host\] section has the MAC of a NIC of this machine \(52:54:00:00:00:07\)'
expect_last "and powers off" '^ftvisor: power-off: configuration error$'

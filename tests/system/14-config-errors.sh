#!/bin/bash
# A bad ftvisor.conf stops the boot with "ftvisor.conf:LINE: message" on
# the console, then a clean power-off; so does a file the config names but
# the boot volume lacks. Each case boots in QEMU (fast); one in Bochs.
. "$(dirname "$0")/lib.sh"
HOSTS='[host alpha]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0'

# case NAME EXPECTED-REGEX < CONF
case_() {
    local name=$1 want=$2
    image "$name"
    boot qemu "$name" --timeout 60
    expect "$name: error names file and line" "^$want"
    expect_last "$name: power-off follows" '^ftvisor: power-off: configuration error$'
    expect_rc "$name: clean power-off" 0
    expect_not "$name: no guest started" 'vmx: '
}

case_ unknown-key 'ftvisor\.conf:6: unknown key .colour. in \[host\] \(expected one of: mac, ip, netmask, gateway, guest_nic\)' <<CONF
# comment line
[host alpha]
mac = 52:54:00:00:00:01
ip = 10.0.0.1
netmask = 255.255.255.0
colour = blue
CONF

case_ bad-mac 'ftvisor\.conf:3: mac: .52:54:00:zz:00:01. is not a MAC address' <<CONF
[host alpha]
ip = 10.0.0.1
mac = 52:54:00:zz:00:01
netmask = 255.255.255.0
CONF

case_ missing-key 'ftvisor\.conf:6: \[host beta\] is missing the required key .netmask.' <<CONF
$HOSTS

[host beta]
mac = 52:54:00:00:00:02
ip = 10.0.0.2
[debug]
host = alpha
CONF

case_ duplicate 'ftvisor\.conf:8: duplicate key .memory_mb. \(first at line 7\)' <<CONF
$HOSTS
[guest]
kernel = vmlinuz
memory_mb = 64
memory_mb = 128
CONF

case_ bad-value 'ftvisor\.conf:7: on_guest_exit: .reboot. is not one of: poweroff, halt, restart' <<CONF
$HOSTS
[debug]
host = alpha
on_guest_exit = reboot
CONF

case_ unknown-host 'ftvisor\.conf:6: host: no \[host gamma\] section in this file' <<CONF
$HOSTS
[debug]
host = gamma
CONF

case_ no-host-match 'ftvisor\.conf: no \[host\] section has the MAC of a NIC of this machine \(no NIC found; set \[debug\] host = NAME\)' <<CONF
$HOSTS
CONF

case_ missing-file 'ftvisor\.conf:7: kernel: cannot read .guests/absent\.bin. from the boot volume: not found' <<CONF
$HOSTS
[guest]
memory_mb = 64
kernel = guests/absent.bin
[debug]
host = alpha
CONF

case_ binary 'ftvisor\.conf:2: control character 0x01' < <(printf '[host a]\nmac\001 = 1\n')

# The same in Bochs: one error through the other emulator.
image bochs-case <<CONF
$HOSTS
[pair]
key = short
CONF
boot bochs bochs-case --timeout 60
expect "bochs: error names file and line" '^ftvisor\.conf:6: key: the pair key is too short \(5 characters; at least 16\)'
expect_last "bochs: power-off follows" '^ftvisor: power-off: configuration error$'
expect_rc "bochs: clean power-off" 0

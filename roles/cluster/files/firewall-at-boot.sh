#!/bin/sh
# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# firewall-at-boot.sh CHAIN RULES_DIR: puts the host firewall of stacked_sparks.vllm back after a boot, before Ray
# listens. The container stacked-sparks-firewall runs it in the host's root (roles/cluster/tasks/firewall.yml) each
# time it starts, at boot before the Ray containers, which wait for it. The rules are the files the host_firewall
# module keeps in RULES_DIR, one per family (CHAIN.ipv4, CHAIN.ipv6), as iptables-restore --noflush reads them: they
# make the chain, fill it and make INPUT jump to it first. Where the chain is there already (the container started
# again while the host ran), it changes nothing: the host_firewall module keeps the chain right.
set -eu
chain=$1
rules_dir=$2
for family in ipv4 ipv6; do
    rules=$rules_dir/$chain.$family
    [ -f "$rules" ] || continue
    if [ "$family" = ipv4 ]; then tables=iptables; else tables=ip6tables; fi
    if "$tables" -w 10 -S "$chain" >/dev/null 2>&1; then
        echo "$family: $chain is in place"
    else
        "$tables-restore" -w 10 --noflush "$rules"
        echo "$family: $chain put back from $rules ($("$tables" -w 10 -S "$chain" | grep -c '^-A') rules)"
    fi
done

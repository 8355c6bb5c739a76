# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host firewall of a node as one rule set: built, compared with the kernel's, replaced in one transaction.

One chain, which INPUT jumps to first. In order: what comes from loopback or from the fabric network goes on
through INPUT (RETURN); new TCP connections from anywhere else to a closed port are dropped.
Everything else is untouched. Every rule's comment carries a tag made from the whole rule set, so the chain
is right when it has exactly these many rules, all with this tag; anything else (a changed setting, a rule
added or removed by hand, no chain) is replaced, in one iptables-restore transaction: no moment with half the
rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

COMMENT = "stacked_sparks.vllm"
MULTIPORT_LIMIT = 15  # iptables' multiport match takes 15 ports, a range counting two
_PORT = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")


class FirewallError(ValueError):
    pass


def port_spec(value) -> str:
    """A port (8000) or a range ('32768:60999', '32768 60999' as the kernel writes it) in iptables' form."""
    text = " ".join(str(value).split()).replace(" ", ":")
    match = _PORT.match(text)
    if not match:
        raise FirewallError(f"not a port or a port range: {value!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not 1 <= low <= high <= 65535:
        raise FirewallError(f"not a port or a port range within 1-65535: {value!r}")
    return str(low) if low == high else f"{low}:{high}"


def port_groups(ports, limit=MULTIPORT_LIMIT):
    """The ports (as port_spec gives them, duplicates dropped, order kept) in groups one multiport match takes."""
    groups, group, weight = [], [], 0
    for spec in dict.fromkeys(port_spec(port) for port in ports):
        cost = 2 if ":" in spec else 1
        if weight + cost > limit:
            groups.append(group)
            group, weight = [], 0
        group.append(spec)
        weight += cost
    return groups + ([group] if group else [])


def network_family(network) -> str:
    try:
        return "ipv6" if ipaddress.ip_network(network, strict=False).version == 6 else "ipv4"
    except ValueError:
        raise FirewallError(f"not a network in CIDR notation: {network!r}") from None


def rule_specs(family, fabric_network, closed_ports):
    """The chain's rules for one family, each (why, the match and target in iptables' words), untagged."""
    rules = [("loopback", "-i lo -j RETURN")]
    if fabric_network and network_family(fabric_network) == family:
        rules.append(("the fabric network", f"-s {ipaddress.ip_network(fabric_network, strict=False)} -j RETURN"))
    for group in port_groups(closed_ports):
        rules.append(("closed ports",
                      f"-p tcp -m conntrack --ctstate NEW -m multiport --dports {','.join(group)} -j DROP"))
    return rules


def rule_set(chain, families, fabric_network, closed_ports):
    """{family: the chain's rules as `-A` lines}, each commented with the tag of the whole set."""
    specs = {family: rule_specs(family, fabric_network, closed_ports) for family in families}
    tag = hashlib.sha1(repr((chain, sorted(specs.items()))).encode()).hexdigest()[:10]
    return {
        family: [_with_comment(f"-A {chain} {spec}", f"{COMMENT} {tag}: {why}") for why, spec in rules]
        for family, rules in specs.items()
    }


def _with_comment(line, comment):
    match, target = line.rsplit(" -j ", 1)
    return f'{match} -m comment --comment "{comment}" -j {target}'


def _tag(line):
    found = re.search(r'--comment "?' + re.escape(COMMENT) + r" ([0-9a-f]{10}):", line)
    return found.group(1) if found else None


def chain_rules(listing, chain):
    """The `-A` lines of chain in the output of `iptables -S` (any chain or all chains)."""
    return [line for line in listing.splitlines() if line.startswith(f"-A {chain} ")]


def jumps(input_listing, chain):
    """The INPUT rules (as `-A INPUT ...` lines) that jump to chain."""
    return [line for line in chain_rules(input_listing, "INPUT") if re.search(rf"\s-j {re.escape(chain)}(\s|$)", line)]


def in_place(desired, chain_listing, input_listing, chain):
    """Whether the kernel already has the desired rules (chain_listing None: no chain) and INPUT jumps first."""
    if chain_listing is None:
        return False
    current = chain_rules(chain_listing, chain)
    tags = {_tag(line) for line in desired}
    if len(current) != len(desired) or {_tag(line) for line in current} != tags:
        return False
    input_rules = chain_rules(input_listing, "INPUT")
    return bool(input_rules) and jumps(input_listing, chain) == input_rules[:1]


def restore_input(desired, chain, input_listing, chain_exists):
    """What iptables-restore --noflush reads to replace the chain's rules and make INPUT jump to it first."""
    lines = ["*filter", f":{chain} - [0:0]"]
    if chain_exists:
        lines.append(f"-F {chain}")
    lines += desired
    lines += ["-D" + line[2:] for line in jumps(input_listing, chain)]
    lines += [f'-I INPUT 1 -m comment --comment "{COMMENT}" -j {chain}', "COMMIT", ""]
    return "\n".join(lines)


def removal_input(chain, input_listing):
    """What iptables-restore --noflush reads to remove the chain and INPUT's jumps to it."""
    lines = ["*filter"] + ["-D" + line[2:] for line in jumps(input_listing, chain)]
    return "\n".join(lines + [f"-F {chain}", f"-X {chain}", "COMMIT", ""])

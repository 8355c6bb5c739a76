#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection placed where ansible-test wants it
# (ansible_collections/<namespace>/<name>). Extra arguments go to ansible-test.
set -euo pipefail
cd "$(dirname "$0")/.."

# ansible-test builds a venv per sanity test and bootstraps pip there with a script from
# ci-files.testing.ansible.com, then runs pip with PIP_CONFIG_FILE=/dev/null and without PIP_* variables. Where
# that host cannot be reached, or pip needs this machine's settings (index, certificates), stand in for the
# script: ensurepip, this machine's pip settings carried into the venv as PIP_* variables (a .pth file sets them
# when the venv's Python starts), then the pip version ansible-test asks for.
at=$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(grep -oP "pip='\K[0-9.]+" "$at/_internal/python_requirements.py")
get_pip=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
pip_env=$(python3 -m pip config list 2>/dev/null | python3 -c '
import re, sys
env = {}
for line in sys.stdin:
    m = re.match(r"^(?::env:|global)\.([a-z-]+)=\x27(.*)\x27$", line.strip())
    if m and m.group(1) in ("cert", "index-url", "extra-index-url", "find-links", "default-timeout"):
        env.setdefault("PIP_" + m.group(1).upper().replace("-", "_"), m.group(2))
print(repr(env))')
mkdir -p "$(dirname "$get_pip")"
cat > "$get_pip" <<PY
"""Stand-in for get-pip.py, written by stacked_sparks.vllm tests/sanity.sh."""
import ensurepip
import os
import subprocess
import sys
import sysconfig

env = $pip_env
with open(os.path.join(sysconfig.get_paths()["purelib"], "outer_pip_settings.pth"), "w") as pth:
    pth.write("import os; os.environ.update(%r)\n" % env)
os.environ.update(env)
ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
# Outside the repository: inside it, ansible-test would take the copy for ignored files and skip them all.
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
dest=$top/ansible_collections/stacked_sparks/vllm
mkdir -p "$dest"
git ls-files -co --exclude-standard | grep -v '^lab/' | tar -cf - -T - | tar -C "$dest" -xf -
cd "$dest"
ansible-test sanity --local --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"

"""The execution environment for AWX: scripts/ee (what `make ee` runs) makes an ansible-builder build context that
installs ansible-core and ansible-runner on the base image, then this collection from a tarball of this checkout
with the collections its galaxy.yml depends on, then what every collection declares for an execution environment.
Only `ansible-builder create`: building the image needs a container engine."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
DEFINITION = yaml.safe_load((REPO / "execution-environment.yml").read_text())
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
# ansible-galaxy and ansible-builder from the virtualenv running the tests
ENV = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def run(*argv, cwd=REPO):
    proc = subprocess.run(argv, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


@pytest.fixture(scope="module")
def context():
    run("scripts/ee", "create", "--output-filename", "Containerfile")
    return REPO / ".build" / "ee" / "context"


def test_containerfile_installs_ansible_core_and_runner_on_the_base_image(context):
    containerfile = (context / "Containerfile").read_text()
    deps = DEFINITION["dependencies"]
    assert f'ARG EE_BASE_IMAGE="{DEFINITION["images"]["base_image"]["name"]}"' in containerfile
    assert f'ARG PYCMD="{deps["python_interpreter"]["python_path"]}"' in containerfile
    refs = f'{deps["ansible_core"]["package_pip"]} {deps["ansible_runner"]["package_pip"]}'
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    # the Python and system packages the installed collections declare
    assert "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt" \
        in containerfile


def test_galaxy_requirements_install_this_checkout_and_its_dependencies(context):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == DEFINITION["dependencies"]["galaxy"]
    [collection] = requirements["collections"]
    assert collection["type"] == "file"
    with tarfile.open(context / "_build" / collection["name"]) as tarball:
        manifest = json.load(tarball.extractfile("MANIFEST.json"))["collection_info"]
        files = set(tarball.getnames())
    for key in ("namespace", "name", "version", "dependencies"):
        assert manifest[key] == GALAXY[key]
    assert {"playbooks/site.yml", "roles/vllm_serve/tasks/main.yml", "meta/execution-environment.yml"} <= files


def test_the_collection_declares_what_an_execution_environment_needs_for_it(context, tmp_path):
    """ansible-builder reads meta/execution-environment.yml: an SSH client, no Python package (not the test
    virtualenv of requirements.txt)."""
    run("ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(tmp_path),
        str(context / "_build" / "collections" / "stacked_sparks-vllm.tar.gz"), cwd=tmp_path)
    report = run("ansible-builder", "introspect", str(tmp_path), cwd=tmp_path)
    needs = yaml.safe_load(report.split("\n---\n", 1)[1].split("\n\n", 1)[0])
    assert needs.get("python", []) == []
    assert needs["system"] == ["openssh-clients [platform:rpm]  # from collection stacked_sparks.vllm",
                               "openssh-client [platform:dpkg]  # from collection stacked_sparks.vllm"]

"""The AWX job templates and credential types of awx/ against the roles: every survey question is a role option,
typed and defaulted as its argument spec says and bounded as the role's value checks accept it; every secret of
the roles comes from a credential type and none from a survey; and nothing a job template runs prompts, reads
the controller's home or a controller path that an execution environment lacks."""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.settings import check_settings

REPO = pathlib.Path(__file__).resolve().parents[3]
AWX = REPO / "awx"


def load(path):
    """A file of awx/ as awx/configure.yml reads it (Ansible's loader: it knows !unsafe)."""
    return yaml.load(path.read_text(), Loader=AnsibleLoader)  # noqa: S506 (Ansible's own loader)


SPECS = {
    spec.parent.parent.name: yaml.safe_load(spec.read_text())["argument_specs"]["main"]["options"]
    for spec in sorted(REPO.glob("roles/*/meta/argument_specs.yml"))
}
OPTIONS = {name: option for options in SPECS.values() for name, option in options.items()}
DEFAULTS = {name: value for path in sorted(REPO.glob("roles/*/defaults/main.yml"))
            for name, value in (yaml.safe_load(path.read_text()) or {}).items()}
SECRETS = {name for name, option in OPTIONS.items() if option.get("no_log")}
TEMPLATES = {path.stem: load(path)[path.stem] for path in sorted((AWX / "job_templates").glob("*.yml"))}
QUESTIONS = [
    pytest.param(question, id=f"{name}:{question['variable']}")
    for name, template in TEMPLATES.items() if template["survey_enabled"]
    for question in template["survey_spec"]["spec"]
]
CREDENTIAL_TYPES = load(AWX / "credential_types.yml")["credential_types"]
# AWX survey types -> argument spec types
TYPES = {"text": "str", "integer": "int", "float": "float"}
# What an inventory must set besides; the rest are the roles' defaults.
INVENTORY = {"cluster_hf_cache_dir": "/srv/hf-cache"}


def test_the_three_job_templates_run_playbooks_of_the_project():
    playbooks = {name: template["playbook"] for name, template in TEMPLATES.items()}
    assert playbooks == {"deploy": "site.yml", "stop": "playbooks/stop.yml", "check": "check.yml"}
    for template in TEMPLATES.values():
        assert (REPO / template["playbook"]).is_file()


@pytest.mark.parametrize("question", QUESTIONS)
def test_question_is_a_role_option_typed_and_defaulted_as_its_argument_spec(question):
    option = OPTIONS[question["variable"]]
    assert TYPES[question["type"]] == option["type"]
    assert question["default"] == DEFAULTS[question["variable"]]
    assert isinstance(question["default"], {"str": str, "int": int, "float": float}[option["type"]])


@pytest.mark.parametrize("question", QUESTIONS)
def test_question_bounds_are_what_the_preflight_accepts(question):
    variable = question["variable"]

    def errors(value):
        return [e for e in check_settings(dict(INVENTORY, **{variable: value}), SPECS)["errors"] if variable in e]

    def serve(value):
        return errors(value) == []

    def refused(value):
        return errors(value) != []

    low, high = question.get("min"), question.get("max")
    if question["type"] == "text":
        assert refused("") if low else serve("")
        return
    step = 1 if question["type"] == "integer" else 0.01  # the survey's precision
    assert serve(low) and refused(round(low - step, 2))
    if high is None:
        assert serve(low * 10**6)  # the role sets no upper bound either
    else:
        assert serve(high) and refused(round(high + step, 2))


def test_secrets_come_from_credential_types_never_from_a_survey():
    injected = {}
    for credential_type in CREDENTIAL_TYPES:
        fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
        for variable, template in credential_type["injectors"]["extra_vars"].items():
            [field] = re.findall(r"\{\{\s*(\w+)", template)
            injected[variable] = fields[field]
    assert set(injected) >= SECRETS
    assert all(injected[variable].get("secret") for variable in SECRETS)
    assert set(injected) <= set(OPTIONS)
    for param in QUESTIONS:
        assert param.values[0]["variable"] not in SECRETS
        assert param.values[0]["type"] != "password"


def test_job_templates_name_the_credentials_configure_knows():
    configure = load(AWX / "configure.yml")[0]["vars"]["awx_credentials"]
    for template in TEMPLATES.values():
        assert set(template["credentials"]) <= set(configure)
    assert "vllm_secrets" in TEMPLATES["deploy"]["credentials"] and "vllm_secrets" in TEMPLATES["check"]["credentials"]


# What would need the controller itself (in AWX: the execution environment, without a terminal or the operator's
# home): a prompt; a lookup of the controller's environment or commands, or of a path in its home or elsewhere on
# it (a lookup of the collection's own files, relative to role_path, is in the EE); a task run on the controller;
# a file next to the playbook or the inventory. (A ~ in a task's path is the node user's home, on the node.)
CONTROLLER_SIDE = re.compile(
    r"\bvars_prompt\b|\bpause:"
    r"""|\b(?:lookup|query|q)\(\s*['"](?:ansible\.builtin\.)?(?:env|pipe|password|lines)['"]"""
    r"""|\b(?:lookup|query|q)\(\s*['"][\w.]+['"]\s*,\s*['"][~/]"""
    r"|\bdelegate_to:\s*(?:localhost|127\.)|\bconnection:\s*local\b|\blocal_action\b|\bplaybook_dir\b|\binventory_dir\b")


@pytest.mark.parametrize("path", sorted({*REPO.glob("*.yml"), *REPO.glob("playbooks/*.yml"),
                                         *REPO.glob("roles/*/*/*.yml")} - {REPO / "galaxy.yml"}),
                         ids=lambda path: str(path.relative_to(REPO)))
def test_nothing_a_job_runs_needs_the_controller(path):
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert CONTROLLER_SIDE.findall(text) == []

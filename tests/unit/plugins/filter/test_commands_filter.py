from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.filter.commands import FilterModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import commands

FILTERS = FilterModule().filters()
FILTER_DIR = pathlib.Path(commands.__file__).parents[1] / "filter"


def test_filter_names():
    assert sorted(FILTERS) == ["ray_closed_ports", "ray_node_env", "ray_start_args", "vllm_serve_args"]


@pytest.mark.parametrize("name, options", [
    ("ray_start_args", {"head": True, "node_ip": "192.168.100.10", "port": 6379, "num_gpus": 1}),
    ("vllm_serve_args", {"model": "tiny", "host": "0.0.0.0", "port": 8000, "tensor_parallel_size": 2,
                         "pipeline_parallel_size": 1, "gpu_memory_utilization": 0.8}),
    ("ray_node_env", {"node_ip": "192.168.100.11", "head_ip": "192.168.100.10", "interface": "enp1s0f1np1"}),
])
def test_filters_return_what_the_builders_return(name, options):
    assert FILTERS[name](options) == getattr(commands, name)(options)


@pytest.mark.parametrize("name, options, message", [
    ("ray_start_args", {"head": True, "node_ip": "192.168.100.10", "port": 6379, "extra_args": ["--num-gpus=2"]},
     "cluster_ray_start_extra_args must not set --num-gpus (got '--num-gpus=2'): the role sets it from cluster_ray_num_gpus"),
    ("vllm_serve_args", {"model": "tiny"}, "vllm_serve_host must be set"),
    ("ray_node_env", {"node_ip": "192.168.100.11", "head_ip": "192.168.100.10", "interface": "enp1s0f1np1",
                      "extra": {"MASTER_ADDR": "127.0.0.1"}}, "cluster_container_env must not set MASTER_ADDR"),
])
def test_bad_input_becomes_a_filter_error_with_the_same_message(name, options, message):
    with pytest.raises(ValueError) as plain:
        getattr(commands, name)(options)
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS[name](options)
    assert err.value.message == str(plain.value)
    assert message in err.value.message


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_has_sidecar_docs(name):
    docs = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text())
    assert docs["DOCUMENTATION"]["name"] == name
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert "stacked_sparks.vllm." + name in docs["EXAMPLES"]
    documented = set(docs["DOCUMENTATION"]["options"]["_input"]["suboptions"])
    # every documented option is one the builder takes, and the other way round
    with pytest.raises(ValueError) as err:
        getattr(commands, name)({"no_such_option": 1})
    assert err.value.args[0].endswith("it knows " + ", ".join(sorted(documented)))

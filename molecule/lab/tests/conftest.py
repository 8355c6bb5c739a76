"""What the lab tests share: the lab's addresses and a reader of `docker inspect` on a lab host."""

import json

import pytest

NODE_IPS = {"spark-1": "172.28.0.11", "spark-2": "172.28.0.12"}
HEAD_IP = NODE_IPS["spark-1"]
API = f"http://{HEAD_IP}:8000"
MODEL = "tiny"
CONTAINERS = {"head": "sparks-ray-head", "worker": "sparks-ray-worker", "vllm": "sparks-vllm"}


@pytest.fixture
def inspect(host):
    """docker inspect of a container on the host under test (the lab user spark is in the docker group)."""

    def _inspect(name):
        return json.loads(host.check_output(f"docker inspect {name}"))[0]

    return _inspect

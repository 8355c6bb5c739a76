"""image_pull: the image on every node, from the lab's registry; a rerun pulls nothing."""

from __future__ import annotations

from conftest import registry_requests


def _image(host, image: str) -> dict:
    out = host.check_output(f"sudo docker image inspect --format '{{{{.Id}}}} {{{{json .RepoDigests}}}}' {image}")
    image_id, digests = out.split(" ", 1)
    return {"id": image_id, "digests": digests}


def test_the_image_is_on_every_node(lab):
    image = lab.vars["cluster_image"]
    found = {name: _image(host, image) for name, host in lab.hosts.items()}
    assert len({entry["id"] for entry in found.values()}) == 1, found  # the same image everywhere
    registry = image.split("/", 1)[0]
    assert all(registry in entry["digests"] for entry in found.values()), found  # pulled from the registry


def test_every_node_pulled_it_from_the_lab_registry(lab):
    repository = lab.vars["cluster_image"].split("/", 1)[1].rsplit(":", 1)[0]
    requests = registry_requests(repository)
    for name in lab.hosts:
        assert requests[lab.fabric_ip(name)] > 0, (name, requests)


def test_the_image_runs(lab):
    out = lab.head.check_output(f"sudo docker run --rm {lab.vars['cluster_image']} sh -c 'echo hello from busybox'")
    assert out == "hello from busybox"


def test_a_rerun_pulls_nothing(lab, rerun_after_unmount):
    run, before, after, image_ids = rerun_after_unmount
    assert run.returncode == 0, run.stderr[-3000:]
    assert [change for change in run.changed if change[0] == "image_pull"] == []
    assert after == before  # not one request reached the registry
    image = lab.vars["cluster_image"]
    assert {name: _image(host, image)["id"] for name, host in lab.hosts.items()} == image_ids

"""Each role runs on its own, as in a user's playbook: without the site playbook's preflight before it, it finds
what it needs itself (the fabric facts, the Docker SDK) and, on the deployed lab, changes nothing."""

import pytest

from conftest import playbook, started_at

# role -> the hosts the site playbook runs it on
ROLES = {"nfs_server": "ray_head", "nfs_client": "ray_workers", "ssh_trust": "ray_head:ray_workers",
         "image_pull": "ray_head:ray_workers", "ray_head": "ray_head", "ray_worker": "ray_workers",
         "vllm_serve": "ray_head:ray_workers"}


@pytest.mark.parametrize("role", ROLES)
def test_a_role_in_a_users_own_playbook(role, tmp_path):
    book = tmp_path / f"{role}.yml"
    book.write_text(f"- hosts: {ROLES[role]}\n  gather_facts: false\n  roles: [stacked_sparks.vllm.{role}]\n")
    before = started_at()
    run = playbook(str(book))
    assert run.rc == 0, run.output
    assert "Resolve each node's fabric address" in run.output, "the role did not resolve the fabric itself"
    assert "Look at the node (the fabric interface, the Docker SDK, RDMA)" in run.output, "the role did not look at its node"
    if ROLES[role] != "ray_head:ray_workers":   # the nodes outside the play are looked at from it
        others = [host for host in ("spark-1", "spark-2") if host not in run.output.split("PLAY RECAP")[1]]
        assert any(f"-> {host}" in run.output for host in others), run.output
    assert run.changed == 0, run.output
    assert started_at() == before

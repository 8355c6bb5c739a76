# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collective test of role stacked_sparks.vllm.fabric, run in the cluster image on every node at once.

One rank per GPU (NCCL), or one rank per node (Gloo, the lab without GPUs). Each operation at each size: WARMUP
untimed runs, then ITERS timed ones between barriers; the time is the slowest rank's. Sizes as nccl-tests reports
them: all_reduce of a SIZE-byte buffer, all_gather into a SIZE-byte output (SIZE / ranks from each). Rank 0 prints
`STACKED-SPARKS-RESULT {"backend", "ranks", "results": [{"op", "size", "seconds"}, ...]}`; NCCL_DEBUG=INFO lines,
which say the transport NCCL used, go to the same output. The bandwidths are computed by the role, not here.
"""

import argparse
import datetime
import json
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

MARK = "STACKED-SPARKS-RESULT "


def timed(step, sync, iters, warmup, device):
    for _warm in range(warmup):
        step()
    sync()
    dist.barrier()
    start = time.perf_counter()
    for _timed in range(iters):
        step()
    sync()
    elapsed = torch.tensor([(time.perf_counter() - start) / iters], dtype=torch.float64, device=device)
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)   # the slowest rank's time
    return float(elapsed.item())


def measure(op, size, ranks, backend, device, iters, warmup):
    count = max(size // 4 // ranks, 1) * ranks   # float32 elements, a multiple of the ranks
    sync = torch.cuda.synchronize if backend == "nccl" else (lambda: None)
    if op == "all_reduce":
        buffer = torch.ones(count, dtype=torch.float32, device=device)

        def step():
            dist.all_reduce(buffer)
    else:
        part = torch.ones(count // ranks, dtype=torch.float32, device=device)
        if backend == "nccl":
            gathered = torch.empty(count, dtype=torch.float32, device=device)

            def step():
                dist.all_gather_into_tensor(gathered, part)
        else:   # Gloo gathers into a list
            pieces = [torch.empty_like(part) for _rank in range(ranks)]

            def step():
                dist.all_gather(pieces, part)
    seconds = timed(step, sync, iters, warmup, device)
    return {"op": op, "size": count * 4, "seconds": seconds}


def run(local_rank, args):
    rank = args.node_rank * args.ranks_per_node + local_rank
    ranks = args.nodes * args.ranks_per_node
    if args.backend == "nccl":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(args.backend, init_method=f"tcp://{args.master}", rank=rank, world_size=ranks,
                            timeout=datetime.timedelta(seconds=args.timeout))
    results = [measure(op, size, ranks, args.backend, device, args.iters, args.warmup)
               for op in args.ops for size in args.sizes]
    if rank == 0:
        print(MARK + json.dumps({"backend": args.backend, "ranks": ranks, "results": results}), flush=True)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["nccl", "gloo"], required=True)
    parser.add_argument("--master", required=True, help="HOST:PORT of rank 0's store (the head)")
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--node-rank", type=int, required=True)
    parser.add_argument("--ranks-per-node", type=int, default=1)
    parser.add_argument("--ops", nargs="+", choices=["all_gather", "all_reduce"], required=True)
    parser.add_argument("--sizes", nargs="+", type=int, required=True, help="bytes")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=300, help="seconds the ranks wait for each other")
    args = parser.parse_args()
    if args.ranks_per_node > 1:
        mp.spawn(run, args=(args,), nprocs=args.ranks_per_node)
    else:
        run(0, args)


if __name__ == "__main__":
    main()

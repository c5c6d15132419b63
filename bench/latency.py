"""API latency benchmark: p50/p99 of reads and of submissions under 50 concurrent clients.

    .venv/bin/python bench/latency.py [--clients 50] [--rates 25,50,100] [--seconds 10] [--requests 20]
                                      [--pairs 500] [--submissions 2]

Starts its own anvil and the service served by uvicorn (one process, as `make run` serves it; SQLite, local
profile settings) in a temporary directory, and loads the chain through the batch endpoint as
bench/ingest.py does (`--pairs` signed dispatch+receipt pairs). Then `--clients` clients, each on its own
connection and signed in as the regulator (who may see everything), read in turn GET /transfers?limit=50,
GET /transfers/{id} (of the loaded transfers) and GET /lots/{id}/lineage/graph (the shipper's generated
lot, with every transfer from it), measured two ways:
- warm-up: each client's first three reads, all clients at once, on new connections to a service that
  has not drawn the graph yet (reported apart: what the first visitors see);
- at a fixed rate (open loop, like wrk2): for each of `--rates` (requests/s from all clients together),
  each client sends a read every clients/rate seconds for `--seconds`, whether or not its last answer has
  come; a latency runs from when the request was due, so a stalled server is not hidden by clients that
  stop asking (coordinated omission). This is the latency a user sees at that load.
- flat out (closed loop): each client sends `--requests` reads, each as soon as the last was answered. This
  measures the most the service answers per second; its latencies are that queue's length, no more.
Submissions: each client sends `--submissions` dispatches one at a time through POST /transfers (signed
beforehand; each answered once recorded on chain and in the read model).
The clients run in this process (httpx, asyncio) on the same machine as the service and the node, so they
take some of its cores too. Prints a Markdown table. Figures depend on the machine; nothing here is
asserted but the status codes.
"""

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from ingest import (  # bench/ingest.py, and the parties and stack of the service tests through it
    ANVIL_MAY_STILL_WRITE,
    plain,
    running_stack,
    signed_dispatches,
    through_batches,
)


async def run_clients(
    base: str, headers: dict[str, str], work: list[list[tuple[str, str, dict | None]]]
) -> tuple[dict[str, list[float]], dict[str, list[str]], float]:
    """Each list of `work` sent in order by its own client, all clients at once: the latencies by name, the
    answers other than 200/201 by name, and the seconds it all took."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)

    async def client(requests: list[tuple[str, str, dict | None]]) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
            for name, path, body in requests:
                started = time.perf_counter()
                try:
                    if body is None:
                        response = await http.get(path)
                    else:
                        response = await http.post(path, json=body)
                except httpx.TransportError as exc:  # the connection dropped: an answer nobody got
                    errors[name].append(f"no answer: {exc!r}")
                    continue
                latencies[name].append(time.perf_counter() - started)
                if response.status_code not in (200, 201):
                    errors[name].append(f"{response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(requests) for requests in work))
    return latencies, errors, time.perf_counter() - started


async def at_rate(
    base: str,
    headers: dict[str, str],
    clients: int,
    rate: float,
    seconds: float,
    reads: list[tuple[str, str]],
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """`clients` clients sending reads round-robin over `reads` at `rate` requests/s in all, each on a fixed
    schedule (a random phase, then one every clients/rate seconds) for `seconds`: the latencies by name,
    counted from when each request was due, and the answers other than 200 by name."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    period = clients / rate

    async def one(http: httpx.AsyncClient, name: str, path: str, due: float) -> None:
        try:
            response = await http.get(path)
        except httpx.TransportError as exc:
            errors[name].append(f"no answer: {exc!r}")
            return
        latencies[name].append(time.perf_counter() - due)
        if response.status_code != 200:
            errors[name].append(f"{response.status_code} {response.text[:300]}")

    async def client(c: int, http: httpx.AsyncClient, start: float) -> None:
        phase, sent = random.uniform(0, period), []
        for k in range(int(seconds / period)):
            due = start + phase + k * period
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            name, path = reads[(c + k) % len(reads)]
            # Not awaited here: a request falls due whether or not the last one was answered (another
            # connection of the client's pool then carries it).
            sent.append(asyncio.create_task(one(http, name, path, due)))
        await asyncio.gather(*sent)

    async with contextlib.AsyncExitStack() as stack:
        # Clients made and connected before the clock starts: making 50 (each loads its TLS settings) takes
        # this process most of a second, which would be charged to the service.
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, headers=headers, timeout=120))
            for _ in range(clients)
        ]
        await asyncio.gather(*(http.get("/health") for http in https))
        start = time.perf_counter() + 0.2
        await asyncio.gather(*(client(c, http, start) for c, http in enumerate(https)))
    return latencies, errors


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--rates", default="25,50,100", help="requests/s of all clients together, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10, help="how long each rate is held")
    parser.add_argument("--requests", type=int, default=20, help="reads each client sends")
    parser.add_argument("--pairs", type=int, default=500, help="pairs loaded before measuring")
    parser.add_argument("--submissions", type=int, default=2, help="dispatches each client submits")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=ANVIL_MAY_STILL_WRITE) as tmp:
        data = Path(tmp)
        with running_stack(data, timeout=120) as stack:
            base, http, shipper, receiver = stack.base, stack.client, stack.shipper, stack.receiver
            through_batches(http, shipper, receiver, args.pairs, 64)
            ids = [t["id"] for t in http.get("/transfers", params={"limit": 50}).json()["items"]]
            reads = [
                ("GET /transfers?limit=50", "/transfers?limit=50"),
                ("GET /transfers/{id}", None),
                ("GET /lots/{id}/lineage/graph", f"/lots/{shipper.lot_id}/lineage/graph"),
            ]
            read_work = [
                [
                    (name, path or f"/transfers/{ids[(c + r) % len(ids)]}", None)
                    for r in range(args.requests)
                    for name, path in [reads[(c + r) % len(reads)]]
                ]
                for c in range(args.clients)
            ]
            signed = signed_dispatches(http, shipper, receiver, args.clients * args.submissions)
            submit_work = [
                [
                    ("POST /transfers", "/transfers", plain(d))
                    for d in signed[c * args.submissions : (c + 1) * args.submissions]
                ]
                for c in range(args.clients)
            ]
            rotation = [
                read
                for transfer_id in ids
                for read in (
                    reads[0],
                    ("GET /transfers/{id}", f"/transfers/{transfer_id}"),
                    reads[2],
                )
            ]
            headers = dict(http.headers)
            # Each client's first reads open its connection and find the service cold (the graph not
            # drawn yet, statements not compiled): reported apart, as what a first visitor sees.
            warm_up = asyncio.run(run_clients(base, headers, [work[:3] for work in read_work]))
            at_rates = {
                rate: asyncio.run(at_rate(base, headers, args.clients, rate, args.seconds, rotation))
                for rate in rates
            }
            reads_latency, reads_errors, reads_seconds = asyncio.run(run_clients(base, headers, read_work))
            submit_latency, submit_errors, submit_seconds = asyncio.run(
                run_clients(base, headers, submit_work)
            )
            log = (data / "service.log").read_text()
            failures = [line for line in log.splitlines() if "Error" in line or "error" in line]
    print(
        f"API latency under {args.clients} concurrent clients (uvicorn, one process; anvil, SQLite; "
        f"{args.pairs:,} pairs loaded; {time.strftime('%Y-%m-%d')})\n"
    )
    print("| load | request | requests | p50 (ms) | p99 (ms) | max (ms) | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    errors: dict[str, list[str]] = defaultdict(list)
    reads_total = sum(len(v) for v in reads_latency.values())
    submit_total = sum(len(v) for v in submit_latency.values())
    runs = [("warm-up: each client's first 3 reads at once", warm_up[0], warm_up[1])]
    runs += [(f"{rate:g} reads/s", *at_rates[rate]) for rate in rates]
    runs += [
        (f"flat out ({reads_total / reads_seconds:.0f} reads/s)", reads_latency, reads_errors),
        (f"flat out ({submit_total / submit_seconds:.1f} submissions/s)", submit_latency, submit_errors),
    ]
    for load, latencies, failed in runs:
        for name, values in sorted(latencies.items()):
            print(
                f"| {load} | {name} | {len(values):,} | {1000 * statistics.median(values):.0f} | "
                f"{1000 * percentile(values, 99):.0f} | {1000 * max(values):.0f} | {len(failed.get(name, []))} |"
            )
        if len(latencies) > 1:
            every = [v for values in latencies.values() for v in values]
            print(
                f"| {load} | every read | {len(every):,} | {1000 * statistics.median(every):.0f} | "
                f"{1000 * percentile(every, 99):.0f} | {1000 * max(every):.0f} | "
                f"{sum(len(v) for v in failed.values())} |"
            )
        for name, answers in failed.items():
            errors[f"{load}, {name}"] += answers
    for name, answers in errors.items():
        print(f"\n{name}: {len(answers)} answered with an error, the first: {answers[0]}")
    if errors and failures:
        print("\nThe service's log, its lines naming an error (the last 20):\n")
        print("\n".join(f"    {line}" for line in failures[-20:]))


if __name__ == "__main__":
    main()

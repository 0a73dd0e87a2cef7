"""Launch one recipe job: one process, or torchrun over several GPUs and nodes, logged to a file.

The shell recipes (run_examples_*.sh) call this with the paper's per-device batch size and gradient
accumulation for ONE GPU, and the entry script's own flags after `--`:

    python -m linkbert.tools.launch --entry src/seqcls/run_seqcls.py --log runs/chemprot_hf/BioLinkBERT-base/log.txt \
        --per_device_train_batch_size 32 --gradient_accumulation_steps 1 -- --model_name_or_path ... --do_train ...

Environment (all optional): NPROC (processes per node, default 1), NNODES (default 1), NODE_RANK,
MASTER_ADDR, MASTER_PORT (multi-node rendezvous), SHARDED=1 (PyTorch FSDP, the successor of the
original's fairscale --sharded_ddp), RESUME=1 (save checkpoints and continue from the last one in
output_dir instead of overwriting it), SAVE_STEPS (checkpoint interval with RESUME, default 500),
DRY_RUN=1 (print the command instead of running it).

With N processes in all, the per-device batch and accumulation are re-derived so that
per_device x accumulation x N equals the paper's effective batch, and the choice is printed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from linkbert.cli import ArgumentParser, flags

# SHARDED=1 asks for the original's most sharded mode, translated to FSDP by the entry script's
# flag layer like a recipe's own --sharded_ddp (linkbert.finetune.args.fsdp_config): one config.
SHARDED_FLAGS = ["--sharded_ddp", "zero_dp_3"]


# the launcher's numeric environment variables: name -> (default, smallest allowed value)
NUMERIC_ENV = {
    "NPROC": ("1", 1),
    "NNODES": ("1", 1),
    "NODE_RANK": ("0", 0),
    "SAVE_STEPS": ("500", 1),
    "MASTER_PORT": ("29500", 1),
}


def check_environment(env: dict) -> dict[str, int]:
    """The numeric environment variables as integers, each checked before anything uses it (and never
    evaluated by a shell): a value that is not a whole number in range stops the job, named."""
    values = {}
    for name, (default, smallest) in NUMERIC_ENV.items():
        text = env.get(name, default).strip()
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses
        if not re.fullmatch(r"[0-9]+", text) or int(text) < smallest:
            kind = "a positive integer" if smallest else "a non-negative integer"
            raise ValueError(f"{name}={env.get(name)!r}: expected {kind}")
        values[name] = int(text)
    if values["MASTER_PORT"] > 65535:
        raise ValueError(f"MASTER_PORT={env.get('MASTER_PORT')!r}: expected a port number, 1-65535")
    if values["NODE_RANK"] >= values["NNODES"]:
        raise ValueError(f"NODE_RANK={values['NODE_RANK']} must be below NNODES={values['NNODES']}")
    return values


def batch_plan(per_device: int, accumulation: int, world_size: int) -> tuple[int, int]:
    """(per-device batch, accumulation) for `world_size` processes giving the same effective batch
    as `per_device` x `accumulation` on one: the largest per-device batch not above the paper's that
    divides the per-process share, so memory per GPU never grows."""
    effective = per_device * accumulation
    if world_size < 1 or effective % world_size:
        raise ValueError(
            f"the effective batch {per_device}x{accumulation}={effective} cannot be split evenly over {world_size} "
            "processes"
        )
    share = effective // world_size
    new_per_device = max(d for d in range(1, min(per_device, share) + 1) if share % d == 0)
    return new_per_device, share // new_per_device


def _replace_flag(args: list[str], flag: str, value: str | None) -> list[str]:
    """Drop `flag` (and its value, if it takes one) from args; append `flag value` when value is given."""
    out, skip = [], False
    for index, item in enumerate(args):
        if skip:
            skip = False
            continue
        if item == flag:
            skip = value is not None or (index + 1 < len(args) and not args[index + 1].startswith("--"))
            continue
        out.append(item)
    return out + ([flag, value] if value is not None else [])


def job_arguments(entry_args: list[str], per_device: int, accumulation: int, env: dict) -> list[str]:
    """The entry script's arguments after applying the batch plan, RESUME and SHARDED."""
    numbers = check_environment(env)
    world = numbers["NPROC"] * numbers["NNODES"]
    per_device, accumulation = batch_plan(per_device, accumulation, world)
    args = _replace_flag(entry_args, "--per_device_train_batch_size", str(per_device))
    args = _replace_flag(args, "--gradient_accumulation_steps", str(accumulation))
    if env.get("RESUME") == "1":
        args = _replace_flag(args, "--overwrite_output_dir", None)
        args = _replace_flag(args, "--save_strategy", "steps")
        args = _replace_flag(args, "--save_steps", str(numbers["SAVE_STEPS"]))
    if env.get("SHARDED") == "1" and "--fsdp" not in args and "--sharded_ddp" not in args:
        args += SHARDED_FLAGS
    return args


def command(entry: str, args: list[str], env: dict) -> list[str]:
    """`python entry args` for one process, else `python -m torch.distributed.run ...` (torchrun)."""
    numbers = check_environment(env)
    nproc, nnodes = numbers["NPROC"], numbers["NNODES"]
    if nproc == 1 and nnodes == 1:
        return [sys.executable, "-u", entry, *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--nnodes", str(nnodes)]
    if nnodes > 1:
        launcher += flags(
            node_rank=numbers["NODE_RANK"],
            master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
            master_port=numbers["MASTER_PORT"],
        )
    return [*launcher, entry, *args]


def run_logged(cmd: list[str], log_path: Path) -> int:
    """Run cmd, copying its output to the terminal and to log_path (the original used `|& tee`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log_path, "ab") as log,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process,
    ):
        for chunk in iter(lambda: process.stdout.read1(65536), b""):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            log.write(chunk)
        return process.wait()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        if not {"-h", "--help"} & set(argv):
            print(
                "error: the entry script's arguments must follow `--`: python -m linkbert.tools.launch --entry SCRIPT "
                "--log FILE --per_device_train_batch_size N --gradient_accumulation_steps K -- ARGS",
                file=sys.stderr,
            )
            return 2
        argv = [*argv, "--"]
    split = argv.index("--")
    parser = ArgumentParser(description="Launch one recipe job")
    parser.add_argument("--entry", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--per_device_train_batch_size", type=int, required=True)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--dry_run", action="store_true", help="print the command and exit")
    options = parser.parse_args(argv[:split])
    env = dict(os.environ)
    try:
        args = job_arguments(
            argv[split + 1 :], options.per_device_train_batch_size, options.gradient_accumulation_steps, env
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cmd = command(options.entry, args, env)
    numbers = check_environment(env)
    world = numbers["NPROC"] * numbers["NNODES"]
    per_device, accumulation = batch_plan(
        options.per_device_train_batch_size, options.gradient_accumulation_steps, world
    )
    print(
        f"[launch] {world} process(es): per-device batch {per_device} x accumulation {accumulation} x {world} "
        f"= effective {per_device * accumulation * world} (paper: {options.per_device_train_batch_size} x "
        f"{options.gradient_accumulation_steps} on 1 GPU)",
        flush=True,
    )
    print("[launch] " + shlex.join(cmd), flush=True)  # quoted: the line can be pasted back into a shell
    if options.dry_run or env.get("DRY_RUN") == "1":
        return 0
    return run_logged(cmd, Path(options.log))


if __name__ == "__main__":
    sys.exit(main())

"""The machine and the process a benchmark run measures on: cores, int8 units, memory, speed, the code."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import hashlib
import importlib.metadata
import os
import platform
import resource
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM) in MB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def maxrss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which belongs to this process's memory alone.

    ``ru_maxrss`` is not used where VmHWM exists: Linux carries it across ``exec``, so a child forked
    from a large benchmark process reports its parent's peak.
    """
    peak = status_mb("VmHWM")
    if peak == peak:  # not NaN
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (and so ru_maxrss) to the current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def trim_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def machine_info(device: str = "cpu") -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cores: set[tuple[str, str]] = set()
    physical = ("0", "")
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                cpu = value
            elif key == "flags":
                flags = set(value.split())
            elif key == "physical id":
                physical = (value, "")
            elif key == "core id":
                cores.add((physical[0], value))
    logical = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "logical_cores": logical,
        "physical_cores": len(cores) or logical,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical,
        "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "int8_units": int8_units(flags),
        "versions": {
            package: package_version(package)
            for package in ("torch", "onnxruntime", "onnx", "transformers", "tokenizers", "detoxify")
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": _gpu_name() if device != "cpu" else None,
    }


def int8_units(flags: set[str]) -> str:
    """The CPU's int8 matrix instructions, from /proc/cpuinfo's flags: what onnx-int8's speed rests on.

    ONNX Runtime multiplies int8 matrices with AMX tiles where the CPU has them (Intel Xeon since
    Sapphire Rapids), else with AVX-512 VNNI or AVX-VNNI, else with plain AVX2.
    """
    found = [
        name
        for name, flag in (("AMX", "amx_int8"), ("AVX-512 VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"))
        if flag in flags
    ]
    if not found:
        found = ["AVX2, no VNNI"] if "avx2" in flags else ["unknown"]
    return " + ".join(found)


def vector_units(flags: set[str]) -> str:
    """The CPU's widest float vectors and its int8 units: fp32 engines' speed rests on the first.

    A 2-core AMD EPYC with AVX-512 ran the encoder's fp32 pass about 1.6 times as fast as one with
    AVX2 alone (bench/heads.py, 2026-12-07), so figures from the two are not comparable.
    """
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{widest}; int8: {int8_units(flags)}"


def cpu_flags() -> set[str]:
    """The flags /proc/cpuinfo lists (empty where there is none)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.split())
    return set()


# Linux x86-64: arch_prctl(ARCH_REQ_XCOMP_PERM, ...) is how a process asks to use AMX tiles, and
# ONNX Runtime (like oneDNN) uses AMX only when the kernel grants it. A seccomp filter that answers
# EPERM to that one request makes them fall back to AVX-512 VNNI, as on a CPU without AMX.
_SYS_ARCH_PRCTL = 158


_ARCH_REQ_XCOMP_PERM = 0x1023


_AUDIT_ARCH_X86_64 = 0xC000003E


def refuse_amx() -> None:
    """Refuse AMX to this process and every process it starts (``--refuse-amx``).

    Raises:
        SystemExit: not Linux on x86-64, or the kernel refused the filter.

    """
    if sys.platform != "linux" or platform.machine() != "x86_64":
        raise SystemExit("--refuse-amx works on Linux x86-64 only")
    load, jump_if_equal, answer = 0x20, 0x15, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K

    def op(code: int, if_true: int, if_false: int, value: int) -> bytes:
        return struct.pack("HBBI", code, if_true, if_false, value)

    # seccomp_data: nr at offset 0, arch at 4, the first argument's low word at 16.
    program = b"".join(
        (
            op(load, 0, 0, 4),
            op(jump_if_equal, 0, 5, _AUDIT_ARCH_X86_64),
            op(load, 0, 0, 0),
            op(jump_if_equal, 0, 3, _SYS_ARCH_PRCTL),
            op(load, 0, 0, 16),
            op(jump_if_equal, 0, 1, _ARCH_REQ_XCOMP_PERM),
            op(answer, 0, 0, 0x00050000 | errno.EPERM),  # SECCOMP_RET_ERRNO
            op(answer, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
        )
    )

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    code = ctypes.create_string_buffer(program)
    fprog = _Program(len(program) // 8, ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0 or libc.prctl(
        pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0
    ):
        raise SystemExit(f"--refuse-amx: the kernel refused the filter ({os.strerror(ctypes.get_errno())})")
    if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, 18) != -1:  # 18: XFEATURE_XTILEDATA
        raise SystemExit("--refuse-amx: AMX is still granted")


def _gpu_name() -> str:
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown GPU"
    return found.stdout.strip().splitlines()[0] if found.stdout.strip() else "unknown GPU"


def cpu_sample() -> tuple[float, float, float, float]:
    """(wall s, the machine's busy CPU s, steal CPU s, this process's children's CPU s)."""
    busy = steal = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(value) for value in Path("/proc/stat").read_text(encoding="ascii").split()[1:9]]
        hertz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, stolen = fields
        busy = (user + nice + system + irq + softirq) / hertz
        steal = stolen / hertz
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), busy, steal, children.ru_utime + children.ru_stime


def speed_probe(seconds: float = 0.3) -> float:
    """How fast the machine is right now: GFLOP/s of a bert-base-sized fp32 matmul (numpy, all cores).

    A shared machine's speed drifts by 10-30% over minutes (other guests on the host, clocks), and each
    row runs minutes apart: probed around every row, the drift shows instead of hiding in a ratio.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    left = rng.standard_normal((384, 768), dtype=np.float32)
    right = rng.standard_normal((768, 3072), dtype=np.float32)
    left @ right
    runs = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or not runs:
        left @ right
        runs += 1
    return runs * 2 * 384 * 768 * 3072 / elapsed / 1e9


def code_digest() -> dict[str, Any]:
    """What the measured code was: a digest of the service and scorer sources, and their newest change."""
    files = sorted(
        [*(ROOT / "moderation" / "serving").glob("*.py"), *(ROOT / "moderation" / "scorers").glob("*.py")]
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    newest = max(path.stat().st_mtime for path in files)
    return {
        "sha256": digest.hexdigest()[:12],
        "newest_change": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds"),
    }

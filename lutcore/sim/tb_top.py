"""cocotb benches of the accelerator top (:class:`lutcore.hw.top.Accelerator`) on Verilator.

Run through :func:`lutcore.sim.runner.run_bench` on a model from
:func:`lutcore.sim.runner.top_model`; the configuration comes from the environment
(``LUTCORE_SIM_CONFIG``, the config as JSON), as do the seed and the host-port randomness
(``LUTCORE_SIM_SEED``, ``LUTCORE_SIM_IDLE``, ``LUTCORE_SIM_STALL``).

- ``serve``: the device end of a session (:mod:`lutcore.host.rtl`): performs the transport
  operations the host runtime (:mod:`lutcore.host.runtime`) sends over a pipe
  (:mod:`lutcore.sim.pipe`) on the host-port driver, program after program, in one
  simulation; waiting for the core is one trigger, no per-cycle Python.
- ``decoder_matches_validate``: random instruction words, each run as ``[word, HALT]``:
  the error code, PC and cycles equal :func:`lutcore.spec.isa.validate`,
  :func:`~lutcore.spec.isa.phase_cycles` and the ISS.
- ``csr_and_host_faults``, ``buffers_read_back``, ``pc_range``, ``busy_write_and_read``,
  ``reset_mid_run``, ``fault_then_recover``: the defined outcome of each fault
  (docs/rtl.md, "Faults") and recovery.

Every wait is bounded (:class:`~lutcore.sim.hostdriver.HostPort` cycle limits, a cycle
limit derived from the prediction for every run) and every test has a simulated-time limit
(``timeout_time``), so a broken core fails a test instead of hanging it.
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles

from ..host.runtime import Runtime, buffer_writes
from ..spec import isa
from ..spec.config import CoreConfig
from ..spec.words import host_words, pack, word_format
from ..sw.iss import ExecutionError, Machine
from . import pipe
from .hostdriver import CLOCK_NS, HostPort, HostPortError, HostPortTransport, reset, start_clock

E = isa.ErrorCode
TIMING = isa.TIMING


def _config() -> CoreConfig:
    return CoreConfig.from_json(os.environ["LUTCORE_SIM_CONFIG"])


def _seed() -> int:
    return int(os.environ.get("LUTCORE_SIM_SEED", "1"))


async def _bring_up(dut, config, *, seed=None, idle=None, stall=None, monitor=True) -> HostPort:
    start_clock(dut)
    port = HostPort(dut, config, seed=_seed() if seed is None else seed,
                    idle=float(os.environ.get("LUTCORE_SIM_IDLE", "0.2")) if idle is None else idle,
                    stall=float(os.environ.get("LUTCORE_SIM_STALL", "0.3")) if stall is None
                    else stall,
                    monitor=monitor)
    port.start()
    await reset(dut)
    return port


def _runtime(port: HostPort) -> Runtime:
    """The host runtime over ``port``: every start and wait of the benches goes through it."""
    return Runtime(HostPortTransport(port), port.config)


async def _load(port: HostPort, region: isa.Region, first: int, limbs: np.ndarray) -> None:
    """Write buffer words (limbs ``[count, L]``) from word ``first`` of ``region``."""
    await port.write_many(*(a.tolist() for a in buffer_writes(region, first, limbs,
                                                                port.config)))


async def _read_words(port: HostPort, region: isa.Region, first: int, count: int) -> np.ndarray:
    """Read ``count`` buffer words as host sub-words ``uint64 [count, S]``."""
    addrs = isa.host_addresses(region, np.arange(first, first + count), config=port.config)
    return np.array(await port.read_many(addrs.reshape(-1).tolist()),
                    np.uint64).reshape(addrs.shape)


def _expected_words(machine: Machine, region: isa.Region, first: int, count: int) -> np.ndarray:
    cfg = machine.config
    return host_words(machine.read(region, first, count), isa.region_word_bits(region, cfg),
                      cfg.host_bits)


async def _run(port: HostPort, words):
    """Run ``words`` once through the runtime (:meth:`Runtime.words_steps`); returns
    (status, cycles, pc)."""
    runtime = _runtime(port)
    status, cycles, pc, _ = await runtime.do_async(runtime.words_steps(words))
    assert not status.busy and status.done, f"status after stop: {status}"
    return status, cycles, pc


def _random_images(config: CoreConfig, rng: np.random.Generator):
    """Random but valid activation and weight buffer images (all words)."""
    lo = -(1 << (config.act_bits - 1))
    act_fmt = word_format(isa.Region.ACT, config)
    weight_fmt = word_format(isa.Region.WEIGHT, config)
    acts = rng.integers(lo, -lo, (config.act_depth, act_fmt.fields))
    codes = rng.integers(0, 1 << config.code_bits, (config.weight_depth, weight_fmt.fields))
    return pack(acts, act_fmt), pack(codes, weight_fmt)


async def _fill(port: HostPort, machine: Machine, acts, weights) -> None:
    await _load(port, isa.Region.ACT, 0, acts)
    await _load(port, isa.Region.WEIGHT, 0, weights)
    machine.write(isa.Region.ACT, 0, acts)
    machine.write(isa.Region.WEIGHT, 0, weights)


def _long_program(config: CoreConfig, rng) -> list[int]:
    """A program that runs long enough to be interrupted: full-depth PRECOMP and LMMAs."""
    count = min(config.act_depth, config.table_depth, config.weight_depth // config.weight_bits)
    text = [f"precomp bitserial act=0 table=0 count={count}"]
    for i in range(4):
        text.append(f"lmma bitserial table=0 weight=0 count={count} "
                    f"planes={config.weight_bits} {'clear' if i == 0 else ''}")
    text += [f"store out=0 c={int(rng.integers(-1, 2))}", "halt"]
    return isa.assemble("\n".join(text))


async def _start_long_run(dut):
    """Random buffers and a long random program loaded (host port without idle or stalls),
    then started through the runtime: ``(config, port, runtime, machine, words)`` with
    ``machine`` holding the same buffers for the ISS check."""
    config = _config()
    port = await _bring_up(dut, config, idle=0.0, stall=0.0)
    rng = np.random.default_rng(_seed())
    machine = Machine(config)
    acts, weights = _random_images(config, rng)
    await _fill(port, machine, acts, weights)
    words = _long_program(config, rng)
    runtime = _runtime(port)
    await runtime.do_async(runtime.start_steps(words))
    return config, port, runtime, machine, words


def _check_iss(machine: Machine, words) -> tuple[isa.ErrorCode, int, int]:
    """Run ``words`` on the ISS; returns (error code, pc, cycles)."""
    machine.instr[:] = 0
    machine.write(isa.Region.INSTR, 0, np.array(words, np.uint64))
    try:
        machine.run()
        return E.NONE, machine.pc, machine.last_cycles
    except ExecutionError as e:
        return e.code, e.pc, machine.last_cycles


# -- the session server ---------------------------------------------------------------------

@cocotb.test()
async def serve(dut):
    """Serve transport operations from the host process over the pipe of
    :mod:`lutcore.sim.pipe` until it says ``close`` (the runtime runs there). The host port
    idles and stalls at random as ``LUTCORE_SIM_IDLE``/``LUTCORE_SIM_STALL`` say (default
    none); ``LUTCORE_SIM_MONITOR=1`` adds the request-stream monitor. Every wait is bounded
    by the host-port driver, so no simulated-time limit is set."""
    config = _config()
    port = await _bring_up(dut, config, idle=float(os.environ.get("LUTCORE_SIM_IDLE", "0")),
                           stall=float(os.environ.get("LUTCORE_SIM_STALL", "0")),
                           monitor=os.environ.get("LUTCORE_SIM_MONITOR") == "1")
    transport = HostPortTransport(port)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(os.environ[pipe.SERVE_ENV])
        pipe.send(sock, {"value": os.getpid()})
        while True:
            header, words = pipe.receive(sock)
            op = header["op"]
            value = result = None
            try:
                if op == "write":
                    half = len(words) // 2
                    await transport.write(words[:half], words[half:])
                elif op == "read":
                    result = await transport.read(words)
                elif op == "wait":
                    value = await transport.wait_done(header["max_cycles"])
                elif op == "reset":
                    await transport.reset()
                elif op in ("stats", "close"):
                    port.check()
                    value = dataclasses.asdict(port.stats)
                    value["sim_cycles"] = int(get_sim_time("ns") // CLOCK_NS)
                else:
                    raise HostPortError(f"unknown operation {op!r}")
            except HostPortError as e:
                pipe.send(sock, {"error": " ".join(str(e).split())})
                raise
            pipe.send(sock, {"value": value}, result)
            if op == "close":
                return


# -- decoder -----------------------------------------------------------------------------------

def _random_instruction(config: CoreConfig, rng: random.Random) -> int:
    """A word that exercises the validation rules near their boundaries."""
    def near(depth):
        return rng.choice([0, 1, depth // 2, depth - 2, depth - 1, depth, depth + 1,
                           rng.randrange(0, isa.MAX_DEPTH)]) % isa.MAX_DEPTH

    def count(depth):
        return rng.choice([0, 1, 2, 3, rng.randrange(1, 8), depth // 4, depth - 1, depth,
                           depth + 1]) % (isa.MAX_DEPTH + 1)

    reserved = 0 if rng.random() < 0.8 else rng.randrange(1, 4)
    mode = rng.choice(list(isa.Mode))
    kind = rng.choice(["nop", "precomp", "lmma", "lmma", "store", "halt", "illegal"])
    try:
        if kind == "precomp":
            instr = isa.Precomp(mode, act_addr=near(config.act_depth),
                                table_addr=near(config.table_depth),
                                count=count(config.act_depth), reserved=reserved)
        elif kind == "lmma":
            instr = isa.Lmma(mode, table_addr=near(config.table_depth),
                             weight_addr=near(config.weight_depth),
                             count=count(config.table_depth), planes=rng.randrange(0, 8),
                             clear=rng.randrange(2), reserved=reserved)
        elif kind == "store":
            instr = isa.Store(out_addr=near(config.out_depth), c=rng.randrange(-16, 16),
                              reserved=reserved)
        elif kind == "nop":
            instr = isa.Nop(reserved=reserved)
        elif kind == "halt":
            instr = isa.Halt(reserved=reserved)
        else:
            legal = {op.value for op in isa.Opcode}
            op = rng.choice([v for v in range(16) if v not in legal])
            return op | (rng.getrandbits(isa.INSTR_BITS) & ~((1 << isa.OPCODE_BITS) - 1))
        return instr.encode()
    except isa.IsaError:
        return isa.Nop().encode()


@cocotb.test(timeout_time=10, timeout_unit="sec")
async def decoder_matches_validate(dut):
    """Random words run as [word, HALT]: same error code, PC and cycles as the ISA and ISS."""
    config = _config()
    rng = random.Random(_seed())
    port = await _bring_up(dut, config)
    machine = Machine(config)
    acts, weights = _random_images(config, np.random.default_rng(_seed()))
    await _fill(port, machine, acts, weights)
    count = int(os.environ.get("LUTCORE_SIM_COUNT", "150"))
    seen = {}
    for i in range(count):
        word = _random_instruction(config, rng)
        words = [word, isa.Halt().encode()]
        status, cycles, pc = await _run(port, words)
        fault = isa.validate(word, config)
        code = fault.code if fault else E.NONE
        seen[code] = seen.get(code, 0) + 1
        iss_code, iss_pc, iss_cycles = _check_iss(machine, words)
        where = f"word {i} {word:#018x} ({isa.decode(word)})"
        assert status.error_code == code == iss_code, \
            f"{where}: RTL error {status.error_code.name}, validate {code.name}, ISS {iss_code.name}"
        assert bool(status.error) == (code is not E.NONE), f"{where}: error flag {status}"
        stops_here = fault is not None or isinstance(isa.decode(word), isa.Halt)
        assert pc == (0 if stops_here else 1) == iss_pc, f"{where}: PC {pc}, ISS {iss_pc}"
        assert cycles == isa.phase_cycles(words, config) == iss_cycles, \
            f"{where}: cycles {cycles}, predicted {isa.phase_cycles(words, config)}, ISS {iss_cycles}"
    # Every rule must have been hit (BAD_MODE only exists on a config without ELUT).
    wanted = {E.NONE, E.ILLEGAL_OPCODE, E.BAD_FIELD, E.ADDR_RANGE}
    if not config.has_elut:
        wanted.add(E.BAD_MODE)
    missing = wanted - set(seen)
    assert not missing, f"no word raised {sorted(c.name for c in missing)}: {seen}"
    # The state the valid instructions left behind (tables, outputs) equals the ISS's.
    got = await _read_words(port, isa.Region.TABLE, 0, config.table_depth)
    np.testing.assert_array_equal(got, _expected_words(machine, isa.Region.TABLE, 0,
                                                       config.table_depth))
    got = await _read_words(port, isa.Region.OUTPUT, 0, config.out_depth)
    np.testing.assert_array_equal(got, _expected_words(machine, isa.Region.OUTPUT, 0,
                                                       config.out_depth))
    port.check()
    dut._log.info(f"decoder: {count} words, error codes {{{', '.join(f'{c.name}: {n}' for c, n in seen.items())}}}")


# -- faults and recovery -------------------------------------------------------------------------

@cocotb.test(timeout_time=10, timeout_unit="sec")
async def csr_and_host_faults(dut):
    """ID, STATUS after reset, and HOST_ADDR for every kind of bad access (first error kept,
    reads return 0, writes dropped), cleared by CTRL.clear."""
    config = _config()
    port = await _bring_up(dut, config)
    hb = config.host_bits
    assert await port.read(port.csr_address(isa.Csr.ID)) == isa.ID_VALUE & ((1 << hb) - 1)
    status = await port.status()
    assert (status.busy, status.done, status.error) == (0, 0, 0), status
    assert await port.cycles() == 0 and await port.pc() == 0

    def addr(region, offset):
        return (region.value << isa.REGION_SHIFT) | offset

    instr_subs = isa.sub_words(isa.INSTR_BITS, hb)
    out_bits = isa.region_word_bits(isa.Region.OUTPUT, config)
    out_subs = isa.sub_words(out_bits, hb)
    bad_reads = [
        addr(isa.Region.CSR, isa.Csr.CTRL),                       # write-only CSR
        addr(isa.Region.CSR, len(isa.Csr)),                       # past the CSRs
        addr(isa.Region.INSTR, 0),                                # write-only region
        (6 << isa.REGION_SHIFT),                                  # unmapped regions
        (15 << isa.REGION_SHIFT) | 5,
        isa.host_address(isa.Region.OUTPUT, config.out_depth - 1, out_subs - 1, config=config)
        + (1 << isa.sub_bits(out_bits, hb)),                       # past the output depth
    ]
    if out_subs < (1 << isa.sub_bits(out_bits, hb)):
        bad_reads.append(isa.host_address(isa.Region.OUTPUT, 0, config=config) + out_subs)
    for a in bad_reads:
        assert await port.read(a) == 0, f"read of {a:#x} returned data"
        status = await port.status()
        assert status.error and status.error_code == E.HOST_ADDR, f"read {a:#x}: {status}"
        assert not status.busy and not status.done
        await port.control(clear=True)
        assert not (await port.status()).error
    # Writes to read-only or unmapped locations are dropped.
    table0 = await _read_words(port, isa.Region.TABLE, 0, 1)
    out0 = await _read_words(port, isa.Region.OUTPUT, 0, 1)
    bad_writes = [
        (addr(isa.Region.CSR, isa.Csr.STATUS), 0xFF),
        (addr(isa.Region.CSR, isa.Csr.ID), 1),
        (isa.host_address(isa.Region.TABLE, 0, config=config), 0x5A5A),
        (isa.host_address(isa.Region.OUTPUT, 0, config=config), 0x5A5A),
        (7 << isa.REGION_SHIFT, 1),
        (isa.host_address(isa.Region.INSTR, config.instr_depth - 1, instr_subs - 1,
                          config=config) + (1 << isa.sub_bits(isa.INSTR_BITS, hb)), 1),
    ]
    for a, value in bad_writes:
        await port.write(a, value)
        status = await port.status()
        assert status.error_code == E.HOST_ADDR, f"write {a:#x}: {status}"
        await port.control(clear=True)
    np.testing.assert_array_equal(await _read_words(port, isa.Region.TABLE, 0, 1), table0)
    np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, 0, 1), out0)
    # The first error is kept: a later different fault does not overwrite it.
    await port.read(addr(isa.Region.CSR, isa.Csr.CTRL))
    status = await port.status()
    assert status.error_code == E.HOST_ADDR
    # A start clears done and error (and a program of HALT ends done without error).
    status, cycles, pc = await _run(port, [isa.Halt().encode()])
    assert not status.error and pc == 0 and cycles == TIMING.START + TIMING.ISSUE
    port.check()


@cocotb.test(timeout_time=10, timeout_unit="sec")
async def buffers_read_back(dut):
    """Host writes commit on the last sub-word; reads return every sub-word; the tables a
    PRECOMP writes equal the ISS's."""
    config = _config()
    port = await _bring_up(dut, config)
    machine = Machine(config)
    rng = np.random.default_rng(_seed())
    acts, weights = _random_images(config, rng)
    await _fill(port, machine, acts, weights)
    for region in (isa.Region.ACT, isa.Region.WEIGHT):
        depth = isa.region_depth(region, config)
        got = await _read_words(port, region, 0, depth)
        np.testing.assert_array_equal(got, _expected_words(machine, region, 0, depth),
                                      err_msg=f"{region.name} read-back")
    # Sub-words below the last are only staged: the word changes when the last arrives.
    bits = isa.region_word_bits(isa.Region.WEIGHT, config)
    n_sub = isa.sub_words(bits, config.host_bits)
    if n_sub > 1:
        before = await _read_words(port, isa.Region.WEIGHT, 3, 1)
        await port.write(isa.host_address(isa.Region.WEIGHT, 3, 0, config=config),
                         int(before[0, 0]) ^ 1)
        np.testing.assert_array_equal(await _read_words(port, isa.Region.WEIGHT, 3, 1), before)
        await port.write(isa.host_address(isa.Region.WEIGHT, 3, n_sub - 1, config=config),
                         int(before[0, n_sub - 1]))
        after = await _read_words(port, isa.Region.WEIGHT, 3, 1)
        assert int(after[0, 0]) == int(before[0, 0]) ^ 1
        await port.write(isa.host_address(isa.Region.WEIGHT, 3, 0, config=config),
                         int(before[0, 0]))
        await port.write(isa.host_address(isa.Region.WEIGHT, 3, n_sub - 1, config=config),
                         int(before[0, n_sub - 1]))
    modes = ["bitserial", "elut"] if config.has_elut else ["bitserial"]
    half = config.table_depth // 2
    words = isa.assemble("\n".join(
        [f"precomp {mode} act={i * 5} table={i * half} count={half}"
         for i, mode in enumerate(modes)] + ["halt"]))
    status, cycles, _ = await _run(port, words)
    assert not status.error and cycles == isa.phase_cycles(words, config)
    machine.write(isa.Region.INSTR, 0, np.array(words, np.uint64))
    machine.run()
    got = await _read_words(port, isa.Region.TABLE, 0, config.table_depth)
    np.testing.assert_array_equal(got, _expected_words(machine, isa.Region.TABLE, 0,
                                                       config.table_depth))
    port.check()


@cocotb.test(timeout_time=10, timeout_unit="sec")
async def pc_range(dut):
    """No HALT: PC_RANGE with PC = instr_depth after every word executed once."""
    config = _config()
    port = await _bring_up(dut, config, idle=0.0, stall=0.0)
    words = [isa.Nop().encode()] * config.instr_depth
    status, cycles, pc = await _run(port, words)
    assert status.error and status.error_code == E.PC_RANGE, status
    assert pc == config.instr_depth
    assert cycles == isa.phase_cycles(words, config) \
        == TIMING.START + (config.instr_depth + 1) * TIMING.ISSUE
    port.check()


@cocotb.test(timeout_time=20, timeout_unit="sec")
async def busy_write_and_read(dut):
    """While busy: buffer and instruction writes set BUSY_WRITE and are dropped, a start is
    ignored, a buffer read waits for the stop, CSR reads answer at once; the run itself
    finishes correctly; the next program after CTRL.clear runs correctly."""
    config, port, runtime, machine, words = await _start_long_run(dut)
    predicted = isa.phase_cycles(words, config)
    status = await port.status()
    assert status.busy and not status.done and not status.error, status
    # Writes while busy: dropped, first one reported.
    await port.write(isa.host_address(isa.Region.INSTR, 1, config=config), 0xF)
    await port.write(isa.host_address(isa.Region.ACT, 0, config=config), 0x55)
    sub_last = isa.sub_words(isa.region_word_bits(isa.Region.WEIGHT, config),
                             config.host_bits) - 1
    await port.write(isa.host_address(isa.Region.WEIGHT, 0, sub_last, config=config), 0x55)
    await port.control(start=True)                  # ignored while busy
    status = await port.status()
    assert status.busy and status.error and status.error_code == E.BUSY_WRITE, status
    # A read of a buffer the core uses waits until the core stops; CSRs answer meanwhile.
    read = cocotb.start_soon(_read_words(port, isa.Region.ACT, 0, 1))
    await ClockCycles(dut.clk, 5)
    assert not read.done(), "an activation read was answered while the core was busy"
    await runtime.do_async(runtime.wait_steps(words))
    first_act = await read
    np.testing.assert_array_equal(first_act, _expected_words(machine, isa.Region.ACT, 0, 1))
    status, cycles, _, _ = await runtime.do_async(runtime.csr_steps())
    assert status.done and not status.busy and status.error_code == E.BUSY_WRITE
    assert cycles == predicted
    code, pc, cycles = _check_iss(machine, words)
    assert code is E.NONE and cycles == predicted
    np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, 0, config.m),
                                  _expected_words(machine, isa.Region.OUTPUT, 0, config.m))
    np.testing.assert_array_equal(await _read_words(port, isa.Region.WEIGHT, 0, 1),
                                  _expected_words(machine, isa.Region.WEIGHT, 0, 1))
    # Recovery: clear, then a different program runs and is checked.
    await port.control(clear=True)
    assert not (await port.status()).error
    words2 = isa.assemble(f"lmma bitserial table=1 weight=2 count=3 planes=1 clear\n"
                          f"store out={config.out_depth - config.m} c=0\nhalt")
    status, cycles, pc = await _run(port, words2)
    assert not status.error and cycles == isa.phase_cycles(words2, config) and pc == 2
    _check_iss(machine, words2)
    last = config.out_depth - config.m
    np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, last, config.m),
                                  _expected_words(machine, isa.Region.OUTPUT, last, config.m))
    port.check()


@cocotb.test(timeout_time=20, timeout_unit="sec")
async def reset_mid_run(dut):
    """Reset in the middle of a run: the core stops, STATUS, CYCLES and PC read 0, the
    buffers keep what the host loaded, and the next program runs correctly."""
    config, port, runtime, machine, words = await _start_long_run(dut)
    await ClockCycles(dut.clk, isa.phase_cycles(words, config) // 2)
    assert int(dut.busy.value) == 1
    await reset(dut)
    assert int(dut.busy.value) == 0 and int(dut.done.value) == 0 and int(dut.error.value) == 0
    status = await port.status()
    assert (status.busy, status.done, status.error) == (0, 0, 0), status
    assert await port.cycles() == 0 and await port.pc() == 0
    np.testing.assert_array_equal(await _read_words(port, isa.Region.ACT, 0, 4),
                                  _expected_words(machine, isa.Region.ACT, 0, 4))
    # The accumulators and row sums were reset: a STORE alone writes zeros.
    last = config.out_depth - config.m
    status, cycles, pc = await _run(port, isa.assemble(f"store out={last} c=1\nhalt"))
    assert not status.error and pc == 1
    assert not (await _read_words(port, isa.Region.OUTPUT, last, config.m)).any()
    # The full program from the start: same result and cycles as the ISS.
    status, cycles, pc = await _run(port, words)
    code, iss_pc, iss_cycles = _check_iss(machine, words)
    assert not status.error and cycles == iss_cycles and pc == iss_pc
    np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, 0, config.m),
                                  _expected_words(machine, isa.Region.OUTPUT, 0, config.m))
    port.check()


@cocotb.test(timeout_time=20, timeout_unit="sec")
async def fault_then_recover(dut):
    """A program faulting in its middle: the instructions before the fault took effect,
    nothing after it did, STATUS holds the code, PC the faulting word, CYCLES the cycles up
    to it; after CTRL.clear the next program runs correctly."""
    config = _config()
    port = await _bring_up(dut, config)
    rng = np.random.default_rng(_seed())
    machine = Machine(config)
    acts, weights = _random_images(config, rng)
    await _fill(port, machine, acts, weights)
    m = config.m
    faults = [
        (".word 0x7", E.ILLEGAL_OPCODE),
        (f"lmma bitserial table=0 weight={config.weight_depth - 1} count=2 planes=1",
         E.ADDR_RANGE),
        ("precomp bitserial act=0 table=0 count=0", E.BAD_FIELD),
        (f"store out={config.out_depth - m + 1} c=0", E.ADDR_RANGE),
    ]
    for k, (bad, code) in enumerate(faults):
        text = [f"precomp bitserial act={k} table=0 count=4",
                "lmma bitserial table=0 weight=0 count=4 planes=1 clear",
                f"store out={k * m} c=1",
                bad,
                f"store out={(k + 1) * m} c=1",        # must not run
                "halt"]
        words = isa.assemble("\n".join(text))
        before_next = await _read_words(port, isa.Region.OUTPUT, (k + 1) * m, m)
        status, cycles, pc = await _run(port, words)
        iss_code, iss_pc, iss_cycles = _check_iss(machine, words)
        assert status.error and status.error_code == code == iss_code, (bad, status)
        assert pc == 3 == iss_pc and cycles == iss_cycles == isa.phase_cycles(words, config)
        np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, k * m, m),
                                      _expected_words(machine, isa.Region.OUTPUT, k * m, m))
        np.testing.assert_array_equal(await _read_words(port, isa.Region.OUTPUT, (k + 1) * m, m),
                                      before_next)
        await port.control(clear=True)
        status = await port.status()
        assert not status.error and not status.done
    port.check()

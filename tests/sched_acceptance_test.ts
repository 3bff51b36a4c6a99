// The simulation acceptance checks, run over seeds and architectures.

import assert from "node:assert/strict";
import { ARCHES } from "../mod.ts";
import { type SimOptions, simulate } from "../sched/mod.ts";

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
const BASE: SimOptions = { cpus: 2, tasks: 4, policy: "preemptive", access: "with-current" };

function corruptedRuns(options: SimOptions): number {
  return SEEDS.filter((seed) => simulate({ ...BASE, ...options, seed }).corrupted).length;
}

Deno.test("with-current on every arch: corrupted without preempt, never with it or cooperatively", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const unguarded = corruptedRuns({ arch });
      assert.ok(unguarded > SEEDS.length / 2, `${arch}: only ${unguarded}/20 seeds corrupted`);
      assert.equal(corruptedRuns({ arch, features: ["preempt"] }), 0);
      assert.equal(corruptedRuns({ arch, policy: "cooperative" }), 0);
    });
  }
});

Deno.test("read-write is corrupted even with preempt: two guards are not one critical section", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const runs = SEEDS.map((seed) =>
        simulate({ ...BASE, arch, seed, access: "read-write", features: ["preempt"] })
      );
      const corrupted = runs.filter((r) => r.corrupted);
      assert.ok(corrupted.length > SEEDS.length / 2, `${arch}: ${corrupted.length}/20`);
      for (const r of runs) {
        assert.equal(r.wrongCpuAccesses, 0, "each guarded access hits the running CPU");
      }
      assert.ok(corrupted.every((r) => r.observed !== r.expected));
    });
  }
});

Deno.test("add: one gs-relative instruction on x86_64 is safe, load/add/store elsewhere is not", async (t) => {
  await t.step("x86_64", () => {
    for (const seed of SEEDS) {
      const r = simulate({ ...BASE, arch: "x86_64", access: "add", seed });
      assert.equal(r.corrupted, false, `seed ${seed}`);
      assert.ok(r.preemptions > 0, "the timer did preempt");
    }
  });
  for (const arch of ARCHES.filter((a) => a !== "x86_64")) {
    await t.step(arch, () => {
      const n = corruptedRuns({ arch, access: "add" });
      assert.ok(n > SEEDS.length / 2, `${arch}: ${n}/20`);
    });
  }
  await t.step("loongarch64 samples $r21 in the access itself: lost updates, no wrong-CPU", () => {
    for (const seed of SEEDS.slice(0, 5)) {
      const r = simulate({ ...BASE, arch: "loongarch64", access: "add", seed });
      assert.equal(r.wrongCpuAccesses, 0);
    }
  });
});

Deno.test("sp-naive: one CPU, lost updates without the guard, none with it", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const unsafe = SEEDS.map((seed) =>
        simulate({ arch, seed, features: ["sp-naive"], tasks: 4, cpus: 1 })
      );
      assert.ok(unsafe.filter((r) => (r.lostUpdates ?? 0) > 0).length > SEEDS.length / 2);
      for (const r of unsafe) {
        assert.equal(r.cpus, 1);
        assert.equal(r.wrongCpuAccesses, 0, "a single CPU has no wrong CPU");
        assert.equal(r.migrations, 0);
      }
      assert.equal(corruptedRuns({ arch, cpus: 1, features: ["sp-naive", "preempt"] }), 0);
    });
  }
  await t.step("more than one CPU is refused, naming the option", () => {
    assert.throws(
      () => simulate({ features: ["sp-naive"], cpus: 2 }),
      (e) =>
        e instanceof RangeError && /^cpus must be an integer from 1 to 1\b/.test(e.message) &&
        !e.message.includes("--"),
    );
  });
});

Deno.test("el2-guest: guests overwrite TPIDR_EL1; arm-el2 keeps the hypervisor's base in TPIDR_EL2", async (t) => {
  for (const policy of ["cooperative", "preemptive"] as const) {
    await t.step(policy, () => {
      const features = policy === "preemptive" ? ["preempt" as const] : [];
      for (const seed of SEEDS.slice(0, 8)) {
        const clobbered = simulate({
          arch: "aarch64",
          scenario: "el2-guest",
          policy,
          seed,
          features,
        });
        assert.equal(clobbered.corrupted, true, `seed ${seed}`);
        assert.ok(clobbered.wrongCpuAccesses > 0);
        assert.equal(clobbered.firstViolation?.hitCpu, -1, "the access went to guest memory");
        const safe = simulate({
          arch: "aarch64",
          scenario: "el2-guest",
          policy,
          seed,
          features: [...features, "arm-el2"],
        });
        assert.equal(safe.corrupted, false, `seed ${seed}`);
      }
    });
  }
  await t.step("needs aarch64", () => {
    assert.throws(
      () => simulate({ arch: "riscv64", scenario: "el2-guest" }),
      /scenario el2-guest needs arch aarch64/,
    );
  });
});

Deno.test("same options and seed give the same trace hash; recording does not change it", () => {
  const options: SimOptions = { arch: "riscv64", seed: 42, iters: 50 };
  const a = simulate(options);
  const b = simulate(options);
  const recorded = simulate({ ...options, record: true });
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.traceHash, recorded.traceHash);
  assert.deepEqual({ ...a, firstViolation: null }, { ...b, firstViolation: null });
  assert.ok(recorded.events!.length > 0);
  const hashes = new Set(SEEDS.map((seed) => simulate({ ...options, seed }).traceHash));
  assert.ok(hashes.size > SEEDS.length * 0.9, "different seeds give different traces");
});

Deno.test("three tasks on two CPUs: load balancing moves tasks mid-access; the guard makes it harmless", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const runs = SEEDS.slice(0, 8).map((seed) => simulate({ ...BASE, arch, tasks: 3, seed }));
      assert.ok(runs.every((r) => r.pulls > 0), "the balancer moved tasks in every run");
      assert.ok(runs.every((r) => r.corrupted));
      assert.ok(
        runs.reduce((n, r) => n + r.wrongCpuAccesses, 0) > 0,
        "some access finished on another CPU than the one whose register it read",
      );
      for (const seed of SEEDS.slice(0, 8)) {
        const guarded = simulate({ ...BASE, arch, tasks: 3, seed, features: ["preempt"] });
        assert.equal(guarded.corrupted, false);
        assert.equal(guarded.wrongCpuAccesses, 0);
        assert.ok(guarded.pulls > 0);
      }
    });
  }
});

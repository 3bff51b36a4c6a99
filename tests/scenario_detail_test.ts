// The built-in scenarios as explore tests: a test's name says every option
// that shapes it, and the el2-guest scenario names its tasks by role.

import assert from "node:assert/strict";
import { counterTest, Machine, type SimOptions } from "../sched/mod.ts";
import { machinePort } from "../sched/runtime/_port.ts";

Deno.test("a counter test's name carries every option that shapes it", () => {
  const base: SimOptions = {
    arch: "riscv64",
    features: ["preempt"],
    tasks: 3,
    iters: 2,
    access: "add",
    cpus: 2,
  };
  const name = counterTest(base).name;
  for (const part of ["counter", "3x2", "add", "riscv64", "preempt", "2"]) {
    assert.ok(name.split(":").includes(part), `${name} has ${part}`);
  }
  const variants: SimOptions[] = [
    { arch: "aarch64" },
    { features: [] },
    { tasks: 2 },
    { iters: 3 },
    { access: "with-current" },
    { cpus: 3 },
    { scenario: "el2-guest", arch: "aarch64", features: ["arm-el2"] },
  ];
  const names = new Set([name, ...variants.map((v) => counterTest({ ...base, ...v }).name)]);
  assert.equal(names.size, variants.length + 1, "different options, different names");
  assert.equal(counterTest(base).name, name, "the same options, the same name");
});

Deno.test("el2-guest: hypervisor tasks and one guest vCPU task per CPU, named by role", () => {
  const test = counterTest({
    scenario: "el2-guest",
    arch: "aarch64",
    features: ["arm-el2"],
    tasks: 2,
    cpus: 2,
  });
  const machine = new Machine({ percpu: test.percpu, cpus: test.cpus });
  test.spawn(machine);
  const names = machinePort(machine).snapshot().tasks.map((t) => t.name);
  assert.deepEqual(names, ["hyp0 (EL2)", "hyp1 (EL2)", "vcpu0 (EL1)", "vcpu1 (EL1)"]);
});

/**
 * A tour of the simulator's API: write your own tasks, run them on a
 * simulated SMP machine, and read what happened.
 *
 *     deno run examples/sched_tour.ts
 *
 * Tasks are generator functions. Every `yield` is an instruction boundary
 * where the timer may preempt the task and the scheduler may move it to
 * another CPU. `yield*` the context's stepped operations (`read`, `write`,
 * `withCurrent`, `add`, `remoteRead`, …): each executes the architecture's
 * real instruction sequence, one instruction per step.
 *
 * @module
 */

import { createPercpu, u32, u64 } from "../mod.ts";
import { Machine, type SimEvent, type TaskContext } from "../sched/mod.ts";

// 1. A per-CPU system: AArch64, no `preempt` feature, two variables.
const percpu = createPercpu({ arch: "aarch64" });
const HITS = percpu.defPercpu("HITS", u64, 0n);
const LAST_CPU = percpu.defPercpu("LAST_CPU", u32, 0);

// 2. A machine: 2 CPUs, a timer tick every ~4 instructions, seed 7, events kept.
const machine = new Machine({ percpu, cpus: 2, quantum: 4, seed: 7, record: true });

// 3. Tasks. `careless` reads and writes in two separate accesses: a tick in
//    between can move it to the other CPU, so the write lands on the wrong copy.
function* careless(ctx: TaskContext) {
  for (let i = 0; i < 20; i++) {
    const hits = yield* ctx.read(HITS);
    yield; // one instruction of the task's own work
    yield* ctx.write(HITS, hits + 1n);
    yield* ctx.write(LAST_CPU, ctx.cpu());
  }
}

// `careful` makes the read and the write one critical section: with
// preemption disabled it cannot migrate between them (ticks are deferred to
// the guard's release, exactly like Linux's preempt_count). The bare `yield`
// after the section is the boundary where a deferred tick switches tasks,
// like cond_resched() between critical sections.
function* careful(ctx: TaskContext) {
  for (let i = 0; i < 20; i++) {
    {
      using _guard = ctx.noPreempt();
      const hits = yield* ctx.read(HITS);
      yield;
      yield* ctx.write(HITS, hits + 1n);
    }
    yield;
  }
}

// `leaky` takes a guard and never releases it: the kernel reports it.
function* leaky(ctx: TaskContext) {
  ctx.noPreempt();
  yield;
}

machine.spawn(careless, { name: "careless" });
machine.spawn(careful, { name: "careful" });
machine.spawn(careless, { name: "careless2" });
machine.spawn(leaky, { name: "leaky" });

// 4. Run to completion and read the statistics.
const stats = machine.run();
const total = HITS.remoteRefRaw(0).value + HITS.remoteRefRaw(1).value;
console.log(
  `instructions ${stats.instructions}, preemptions ${stats.preemptions}, ` +
    `migrations ${stats.migrations}, wrong-CPU accesses ${stats.wrongCpuAccesses}`,
);
console.log(`HITS summed over both CPUs: ${total} (60 increments were made)`);
for (const misuse of stats.misuses) console.log(`kernel: ${misuse.message}`);

// 5. The trace: every dispatch, tick, guard change and memory access.
const names = machine.taskNames;
function valueText(event: SimEvent): string {
  const who = `cycle ${String(event.cycle).padStart(4)}  CPU ${event.cpu}  ${names[event.task]}`;
  switch (event.kind) {
    case "access":
      return `${who}: ${event.text}${
        event.wrong ? `   <- hit CPU ${event.hitCpu}'s copy while running on CPU ${event.cpu}` : ""
      }`;
    case "tick":
      return `${who}: timer tick (${event.outcome})`;
    case "preempt":
      return `${who}: preempted, queued on CPU ${event.target}`;
    case "migrate":
      return `${who}: migrated from CPU ${event.from}`;
    case "guard":
      return `${who}: preempt count ${event.count}`;
    default:
      return `${who}: ${event.kind}`;
  }
}
const events = machine.events!;
const first = events.findIndex((e) => e.kind === "access" && e.wrong);
if (first >= 0) {
  console.log("\nAround the first wrong-CPU access:");
  for (const event of events.slice(Math.max(0, first - 14), first + 2)) {
    console.log("  " + valueText(event));
  }
}
console.log(`\ntrace hash ${stats.traceHash}: run again, get the same hash.`);

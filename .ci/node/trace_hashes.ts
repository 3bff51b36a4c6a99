// Prints the trace hash of a few simulations, one line each: .ci/node_tests
// runs it under Node and under Deno and expects the same lines, the promise
// that the simulator is deterministic across runtimes.
//
//   <runtime> trace_hashes.ts <directory holding sched/mod.ts>
import process from "node:process";
import { pathToFileURL } from "node:url";

const root = pathToFileURL(`${process.argv[process.argv.length - 1]}/`);
const { checkDfs, counterTest, simulate } = await import(new URL("sched/mod.ts", root).href);
const ARCHES = ["x86_64", "aarch64", "riscv64", "loongarch64", "arm"];
for (const arch of ARCHES) {
  for (const features of [[], ["preempt"]]) {
    const run = simulate({ arch, features, seed: 7, tasks: 3, iters: 40 });
    console.log(`sim ${arch} ${features.join(",") || "-"} ${run.traceHash} ${run.observed}`);
  }
  const found = checkDfs(counterTest({ arch, tasks: 2, iters: 1 }));
  console.log(`explore ${arch} ${found.violation?.schedule} ${found.schedulesExplored}`);
}

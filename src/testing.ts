// "yasp/testing": the deterministic simulator, for testing your own code on yasp without sockets,
// disks or real time. A separate entry so the library ("yasp") ships none of it to production code.
// SimCluster runs N real ranks on one virtual clock; the parts are exported for building your own.
export { SimCluster, type SimClusterOptions } from "./sim/cluster.js";
export { SimClock } from "./sim/clock.js";
export { PausableClock } from "./sim/pausable_clock.js";
export { SimNetwork, CALM, type NetFaults } from "./sim/network.js";
export { SimStorage } from "./sim/storage.js";
export { MemoryLogSink } from "./sim/memory_log.js";
/** The seeded PRNG the simulator draws from (a SimNetwork needs a Random): same seed, same run. */
export { Prng } from "./faults/prng.js";
/** The checker's rules over in-memory logs (rules 1-3, no gaps, no double commit, nothing lost). */
export { checkLogs } from "./sim/check.js";

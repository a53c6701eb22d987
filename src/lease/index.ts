// The master lease (PaxosLease) between the ranks of one cluster: see core.ts for the protocol,
// node.ts for the shell a service runs, lines.ts for the lease log checked by yasp-lease-check.
export { LeaseCore, type LeaseEffect, type LeaseView } from "./core.js";
export { LEASE_DEFAULTS, MIN_LEASE_MS, type LeaseConfig } from "./config.js";
export {
  FileLeaseLog,
  LeaseNode,
  monotonicUs,
  type LeaseLog,
  type LeaseNodeConfig,
  type LeasePeer,
  type MasterView,
} from "./node.js";

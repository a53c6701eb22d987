// The lease log: one line per event, appended by every rank to its own file (--lease-log,
// default <data-dir>/lease.log), times in µs on the host's monotonic clock (CLOCK_MONOTONIC, the
// same for every process of one host, so ranks' lines compare), and checked by yasp-lease-check
// (checker/lease_check.ts) for two ranks holding the lease at once:
//
//   held <rank> <term> <fromUs> <untilUs>   an acquisition or a renewal: the rank learned a
//                                           majority accepted at fromUs and holds until untilUs
//                                           (written before the rank acts as master)
//   ended <rank> <term> <atUs>              it stopped being master early (a stop), at atUs
//   start <rank> <atUs>                     a life of the rank began (it waits out a lease first)
//
// A rank killed with kill -9 writes nothing more: its last held line's untilUs is where its
// lease ended. A lease that runs out without a renewal writes nothing either (untilUs said it).
export function heldLine(rank: number, term: number, fromUs: number, untilUs: number): string {
  return `held ${rank} ${term} ${fromUs} ${untilUs}`;
}

export function endedLine(rank: number, term: number, atUs: number): string {
  return `ended ${rank} ${term} ${atUs}`;
}

export function startLine(rank: number, atUs: number): string {
  return `start ${rank} ${atUs}`;
}

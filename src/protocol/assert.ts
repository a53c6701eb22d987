// Internal invariants. A broken one means this rank's own logic is wrong: it stops the run (the
// processor loop rejects, the rank halts, the command exits non-zero, the simulator names the
// seed) instead of printing a line and running on with a state nobody can trust.
// Never assert on what arrives from outside (frames, files, flags): validate and refuse that, or a
// forged frame could stop a rank.

export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new InvariantError(message());
}

/** The precondition every step of a processor starts with: time never goes back. */
export class StepTime {
  private lastUs = -Infinity;

  constructor(private readonly who: string) {}

  enter(nowUs: number): void {
    invariant(
      nowUs >= this.lastUs,
      () => `${this.who}: step at ${nowUs} µs after one at ${this.lastUs} µs`,
    );
    this.lastUs = nowUs;
  }
}

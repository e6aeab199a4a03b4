// The tasks of a vendor simulator whose jobs finish by the clock, with the tests' hold: while
// held, none finishes (a test stops a gateway meanwhile); on release, each unfinished task's
// duration counts again from then.

/** What a clocked task has: when its duration started, and its outcome once it has ended. */
export interface ClockedTask {
  createdAt: number;
  outcome?: unknown;
}

export class HeldTasks<Task extends ClockedTask> extends Map<string, Task> {
  /** Set by hold(), cleared by release(). */
  held = false;

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const task of this.values()) if (!task.outcome) task.createdAt = Date.now();
  }
}

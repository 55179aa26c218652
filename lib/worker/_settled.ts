/**
 * Waiting, for a while at most, for a set of running promises to settle:
 * a closing worker's handlers.
 *
 * @module
 */

/**
 * Waits until `running` is empty (its members remove themselves as they
 * settle), for at most `ms`; true if it emptied in time.
 */
export async function allSettled(
  running: ReadonlySet<Promise<unknown>>,
  ms: number,
): Promise<boolean> {
  if (running.size === 0) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    while (running.size > 0) {
      const done = await Promise.race([
        Promise.allSettled([...running]).then(() => true),
        expired,
      ]);
      if (!done) return false;
    }
    return true;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For the global setups' sweeps of what a run stopped by Ctrl-C left behind (a bundle
 * directory, a template database), each named by its run's pid.
 */
export const isRunAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive, another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

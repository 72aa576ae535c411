/** The approve command lines for a waiting task, as shown in its draft file, the summary and `cortex status`. */
export function taskCommands(executionId: string, actionId: string): { asIs: string; withData: string } {
  return {
    asIs: `cortex approve ${executionId} --action ${actionId}`,
    withData: `cortex approve ${executionId} --action ${actionId} --data FILE`,
  };
}

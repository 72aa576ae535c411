/** Where `${secrets.NAME}` values come from. */
export interface SecretSource {
  /** The value, or undefined when the secret is not set anywhere. Throws CortexError when it exists but is unsafe to use. */
  get(name: string): Promise<string | undefined>;
  /** Where cortex looked, for error messages. */
  describe(name: string): string;
  /**
   * Every secret value this source can give (all CORTEX_SECRET_* variables and secrets/ files):
   * registered with the masker before an execution runs, so a secret a workflow never names
   * is masked too when a tool prints it.
   */
  all?(): Promise<string[]>;
}

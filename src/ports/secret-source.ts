/** Where `${secrets.NAME}` values come from. */
export interface SecretSource {
  /** The value, or undefined when the secret is not set anywhere. Throws CortexError when it exists but is unsafe to use. */
  get(name: string): Promise<string | undefined>;
  /** Where cortex looked, for error messages. */
  describe(name: string): string;
}

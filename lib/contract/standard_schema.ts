/**
 * The Standard Schema interface (https://standardschema.dev, version 1):
 * what zod 4, valibot 1, arktype 2 and other schema libraries implement, so
 * that a method can declare its input and output with any of them. Types
 * only: the library depends on none of them.
 *
 * @module
 */

/**
 * A schema of any library that implements Standard Schema version 1.
 *
 * @example
 * ```ts
 * import type { StandardSchema } from "./standard_schema.ts";
 *
 * // A schema written by hand: a number.
 * const number: StandardSchema<number> = {
 *   "~standard": {
 *     version: 1,
 *     vendor: "example",
 *     validate: (value) =>
 *       typeof value === "number"
 *         ? { value }
 *         : { issues: [{ message: "Expected a number" }] },
 *   },
 * };
 * console.log(number["~standard"].vendor); // example
 * ```
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  /** The interface's properties, under a name no library uses otherwise. */
  readonly "~standard": StandardSchemaProps<Input, Output>;
}

/** The properties of a {@linkcode StandardSchema}. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** The version of the interface: 1. */
  readonly version: 1;
  /** The library that made the schema: "zod", "valibot", "arktype", … */
  readonly vendor: string;
  /** Checks `value`: its parsed value, or the issues found. */
  readonly validate: (
    value: unknown,
  ) => StandardResult<Output> | Promise<StandardResult<Output>>;
  /** The input and output types, for inference only. */
  readonly types?: StandardTypes<Input, Output> | undefined;
}

/** What {@linkcode StandardSchemaProps.validate} returns. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

/** One problem a schema found. */
export interface StandardIssue {
  /** What is wrong, for humans. */
  readonly message: string;
  /** Where: the keys from the value's root to the problem. */
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[];
}

/** The types a schema carries for inference. */
export interface StandardTypes<Input, Output> {
  /** What the schema accepts. */
  readonly input: Input;
  /** What it turns that into. */
  readonly output: Output;
}

/**
 * The type a schema accepts.
 *
 * @example
 * ```ts
 * import type { InferInput, StandardSchema } from "./standard_schema.ts";
 *
 * type Accepted = InferInput<StandardSchema<string, number>>; // string
 * const accepted: Accepted = "42";
 * console.log(accepted); // 42
 * ```
 */
export type InferInput<Schema extends StandardSchema> = NonNullable<
  Schema["~standard"]["types"]
>["input"];

/**
 * The type a schema turns what it accepts into.
 *
 * @example
 * ```ts
 * import type { InferOutput, StandardSchema } from "./standard_schema.ts";
 *
 * type Parsed = InferOutput<StandardSchema<string, number>>; // number
 * const parsed: Parsed = 42;
 * console.log(parsed); // 42
 * ```
 */
export type InferOutput<Schema extends StandardSchema> = NonNullable<
  Schema["~standard"]["types"]
>["output"];

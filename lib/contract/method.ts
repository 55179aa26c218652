/**
 * {@linkcode method}: a method with runtime contracts. Its input and
 * output schemas (of any Standard Schema library: zod, valibot, arktype, …)
 * are checked on every call, and typed clients infer its argument and
 * result types from them.
 *
 * @module
 */

import { HandlerError } from "../errors.ts";
import type { RpcRequest } from "../protocol/message.ts";
import { boundedIssues, issuesText } from "./issues.ts";
import type {
  InferInput,
  InferOutput,
  StandardIssue,
  StandardSchema,
} from "./standard_schema.ts";

/** The methods {@linkcode method} made: their `contract` is theirs. */
const MADE = new WeakSet<object>();

/**
 * The schemas of a method: what its argument must be, and what its result
 * must be.
 *
 * @example
 * ```ts
 * import type { Contract } from "./method.ts";
 *
 * const contract: Contract = {};
 * console.log(contract.input); // undefined
 * ```
 */
export interface Contract<
  Input extends StandardSchema = StandardSchema,
  Output extends StandardSchema = StandardSchema,
> {
  /** The argument's schema, checked before the handler runs. */
  readonly input?: Input;
  /** The result's schema, checked before the reply is sent. */
  readonly output?: Output;
}

/**
 * A method with a contract: called as any method (`(args, request)`), it
 * checks its argument and its result; its `contract` holds its schemas.
 */
export type ContractMethod<Args, Result> =
  & ((args: Args, request: RpcRequest) => Promise<Result>)
  & { readonly contract: Contract };

/**
 * A method whose argument is checked against `contract.input` (and whose
 * result against `contract.output`, if given), with any library that
 * implements Standard Schema. A worker serves it as any other method; the
 * check runs after routing and middleware, so a caller the middleware
 * refuses learns nothing of the schema. An argument that fails is answered
 * `INVALID_ARGUMENT` with its issues (each with its path; at most 20, each
 * message at most 256 characters); a result that fails is an `INTERNAL`
 * error, logged by the worker. The handler gets the schema's output (its
 * defaults and transforms applied). Typed clients (`client.service<typeof
 * module>(queue)`) take the argument type from the input schema and the
 * result type from the output schema.
 *
 * @example A method checked with zod
 * ```ts ignore
 * import { z } from "npm:zod@4";
 * import { method } from "./method.ts";
 *
 * export const add = method(
 *   { input: z.object({ a: z.number(), b: z.number() }), output: z.number() },
 *   ({ a, b }) => a + b,
 * );
 * ```
 *
 * @throws {TypeError} if `contract.input` or `contract.output` is not a
 * Standard Schema, or `handler` is not a function.
 */
export function method<Input extends StandardSchema, Result>(
  contract: { readonly input: Input; readonly output?: undefined },
  handler: (
    args: InferOutput<Input>,
    request: RpcRequest,
  ) => Result | Promise<Result>,
): ContractMethod<InferInput<Input>, Awaited<Result>>;
/**
 * A method with an input schema and an output schema: see the first
 * signature of {@linkcode method}.
 *
 * @example
 * ```ts ignore
 * import { z } from "npm:zod@4";
 * import { method } from "./method.ts";
 *
 * export const negate = method({ input: z.number(), output: z.number() }, (n) => -n);
 * ```
 */
export function method<
  Input extends StandardSchema,
  Output extends StandardSchema,
>(
  contract: { readonly input: Input; readonly output: Output },
  handler: (
    args: InferOutput<Input>,
    request: RpcRequest,
  ) => InferInput<Output> | Promise<InferInput<Output>>,
): ContractMethod<InferInput<Input>, InferOutput<Output>>;
/** The implementation of {@linkcode method}'s signatures. */
export function method(
  contract: Contract,
  handler: (args: unknown, request: RpcRequest) => unknown,
): ContractMethod<unknown, unknown> {
  const { input, output } = checkContract(contract);
  if (typeof handler !== "function") {
    throw new TypeError("method(): the handler must be a function");
  }
  const checked = async (args: unknown, request: RpcRequest) => {
    let value = args;
    if (input !== undefined) {
      const result = await input["~standard"].validate(args);
      if (result.issues !== undefined) throw invalidArguments(result.issues);
      value = result.value;
    }
    const reply = await handler(value, request);
    if (output === undefined) return reply;
    const result = await output["~standard"].validate(reply);
    if (result.issues !== undefined) {
      // Not the caller's fault, and not for the caller to see: INTERNAL,
      // with this message in the worker's log.
      throw new Error(
        `The method's result does not match its output schema: ${
          issuesText(boundedIssues(result.issues), result.issues.length)
        }`,
      );
    }
    return result.value;
  };
  const made = Object.assign(checked, {
    contract: Object.freeze({ input, output }),
  });
  MADE.add(made);
  return made;
}

/**
 * The contract of a method made by {@linkcode method}, or `undefined` for
 * any other function.
 *
 * @example
 * ```ts
 * import { contractOf } from "./method.ts";
 *
 * console.log(contractOf((n: number) => n)); // undefined
 * ```
 */
export function contractOf(fn: unknown): Contract | undefined {
  return typeof fn === "function" && MADE.has(fn)
    ? (fn as ContractMethod<unknown, unknown>).contract
    : undefined;
}

/**
 * The error of an argument that fails its schema: `INVALID_ARGUMENT`, its
 * message listing the issues, which it carries (bounded) for the reply.
 *
 * @example
 * ```ts
 * import { invalidArguments } from "./method.ts";
 *
 * const error = invalidArguments([{ message: "Expected number", path: ["a"] }]);
 * console.log(error.code, error.message); // INVALID_ARGUMENT Invalid arguments: a: Expected number
 * ```
 */
export function invalidArguments(
  issues: readonly StandardIssue[],
): HandlerError {
  const bounded = boundedIssues(issues);
  return new HandlerError(
    "INVALID_ARGUMENT",
    `Invalid arguments: ${issuesText(bounded, issues.length)}`,
    { issues: bounded },
  );
}

function checkContract(contract: Contract): Contract {
  if (typeof contract !== "object" || contract === null) {
    throw new TypeError("method(): the contract must be an object");
  }
  for (const key of ["input", "output"] as const) {
    const schema = contract[key];
    if (schema !== undefined && !isStandardSchema(schema)) {
      throw new TypeError(
        `method(): contract.${key} must be a Standard Schema (zod 4, valibot 1, arktype 2, …)`,
      );
    }
  }
  return contract;
}

function isStandardSchema(value: unknown): value is StandardSchema {
  const props = (value as { "~standard"?: { validate?: unknown } } | null)
    ?.["~standard"];
  return (typeof value === "object" || typeof value === "function") &&
    value !== null && typeof props?.validate === "function";
}

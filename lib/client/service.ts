/**
 * Typed calls: a function per method of a service
 * ({@linkcode methodCaller}), and a client of a whole service
 * ({@linkcode serviceClient}), whose arguments go as JSON and whose replies
 * are decoded by their content type.
 *
 * @module
 */

import { boundedIssues, issuesText } from "../contract/issues.ts";
import { contractOf } from "../contract/method.ts";
import type { StandardSchema } from "../contract/standard_schema.ts";
import { checkName } from "../checks.ts";
import { ProtocolError } from "../errors.ts";
import { encodeValue } from "../protocol/codec.ts";
import type { RpcReply } from "../protocol/message.ts";
import type { Sent } from "../protocol/sent.ts";
import type { CallOptions } from "./options.ts";

/**
 * A typed function that calls one method of a service; see
 * `RpcClient.method`.
 *
 * @example
 * ```ts
 * import type { MethodCaller } from "./service.ts";
 *
 * // What client.method<{ a: number; b: number }, number>("calc", "add") gives;
 * // here a stand-in, as in a test.
 * const add: MethodCaller<{ a: number; b: number }, number> = ({ a, b }) =>
 *   Promise.resolve(a + b);
 * console.log(await add({ a: 1, b: 2 }, { timeout: 1_000 })); // 3
 * ```
 */
export type MethodCaller<Args, Result> = (
  args: Args,
  options?: CallOptions,
) => Promise<Result>;

/**
 * A typed client of a whole service, from an interface or a handler
 * module's type: each method takes its arguments and call options and
 * resolves with its result. See `RpcClient.service`.
 *
 * @example
 * ```ts
 * import type { ServiceClient } from "./service.ts";
 *
 * interface Calc {
 *   add(args: { a: number; b: number }): number;
 * }
 * // What client.service<Calc>("calc") gives; here a stand-in, as in a test.
 * const calc: ServiceClient<Calc> = { add: ({ a, b }) => Promise.resolve(a + b) };
 * console.log(await calc.add({ a: 1, b: 2 })); // 3
 * ```
 */
export type ServiceClient<Service> = {
  [
    Name in keyof Service as Name extends
      "then" | "toJSON" | keyof typeof Object.prototype ? never
      : Service[Name] extends (...args: never[]) => unknown ? Name & string
      : never
  ]: Service[Name] extends (...args: infer Params) => infer Result
    // No arguments, or optional ones: the argument may be left out.
    // What the reply decodes to: the result after a trip through JSON.
    ? MethodCaller<
      [] extends Params ? Params[0] | void : Params[0],
      Sent<Awaited<Result>>
    >
    : never;
};
/** What typed calls need of a client: its `call`. */
export interface Caller {
  /** Sends `body` to `queue` and resolves with the reply. */
  call(
    queue: string,
    body: string | Uint8Array,
    options?: CallOptions,
  ): Promise<RpcReply>;
}

/**
 * A typed function that calls the method `name` of the service on `queue`
 * through `client`: its argument is sent as JSON (a string as text, bytes
 * as bytes), the name as the `type` property (none: the worker's default
 * method), and the reply is decoded by its content type.
 *
 * @example
 * ```ts ignore
 * import { RpcClient } from "../../mod.ts";
 * import { methodCaller } from "./service.ts";
 *
 * await using client = await RpcClient.connect();
 * const add = methodCaller<{ a: number; b: number }, number>(client, { queue: "calc", name: "add" });
 * console.log(await add({ a: 1, b: 2 })); // 3
 * ```
 *
 * @throws {TypeError} if `queue` or `name` is not a non-empty string.
 * @throws {RangeError} if `queue` or `name` is longer than 255 bytes.
 */
export function methodCaller<Args, Result>(
  client: Caller,
  target: { queue: string; name?: string; input?: StandardSchema },
): MethodCaller<Args, Result> {
  const queue = checkName("queue", target.queue);
  const name = target.name === undefined
    ? undefined
    : checkName("method", target.name);
  const input = target.input;
  return async (args: Args, options: CallOptions = {}): Promise<Result> => {
    if (input !== undefined) {
      // Checked before it leaves: the worker would refuse it anyway.
      const checked = await input["~standard"].validate(args);
      if (checked.issues !== undefined) {
        const issues = boundedIssues(checked.issues);
        throw new TypeError(
          `Invalid arguments for "${name ?? "(default)"}" on "${queue}": ${
            issuesText(issues, checked.issues.length)
          }`,
          { cause: issues },
        );
      }
    }
    const { body, contentType } = encodeValue(args);
    const reply = await client.call(queue, body, {
      ...options,
      properties: { ...options.properties, type: name, contentType },
    });
    try {
      return reply.decode<Result>();
    } catch (cause) {
      throw new ProtocolError(
        `The reply of "${name ?? "(default)"}" on "${queue}" ${
          cause instanceof SyntaxError
            ? "is not valid JSON"
            : `cannot be decoded: ${(cause as Error).message}`
        }`,
        { cause },
      );
    }
  };
}

/**
 * Options of {@linkcode serviceClient}.
 *
 * @example
 * ```ts
 * import type { ServiceOptions } from "./service.ts";
 *
 * const options: ServiceOptions<{ add(n: number): number }> = {};
 * console.log(options.contracts); // undefined
 * ```
 */
export interface ServiceOptions<Service> {
  /**
   * The service's methods (its module, as the worker serves it): the
   * arguments of a method made with `method()` are checked against its
   * input schema before the call is sent, and a call that fails rejects
   * with a `TypeError` listing the issues (its `cause`), sending nothing.
   */
  contracts?: Service;
}

/**
 * A typed client of the whole service on `queue`: a proxy whose every
 * property is a {@linkcode methodCaller}. It never sends a call when it is
 * printed, turned into a string or JSON, or awaited: `then`, `toJSON` and
 * the names of `Object.prototype` are not methods.
 *
 * @example
 * ```ts ignore
 * import { RpcClient } from "../../mod.ts";
 * import { serviceClient } from "./service.ts";
 *
 * interface Calc {
 *   add(args: { a: number; b: number }): number;
 * }
 * await using client = await RpcClient.connect();
 * const calc = serviceClient<Calc>(client, "calc");
 * console.log(await calc.add({ a: 1, b: 2 })); // 3
 * ```
 *
 * @throws {TypeError} if `queue` is not a non-empty string.
 * @throws {RangeError} if `queue` is longer than 255 bytes.
 */
export function serviceClient<Service>(
  client: Caller,
  queue: string,
  options: ServiceOptions<Service> = {},
): ServiceClient<Service> {
  const contracts = options.contracts as Record<string, unknown> | undefined;
  checkName("queue", queue);
  const callers = new Map<string, MethodCaller<unknown, unknown>>();
  const label = `ServiceClient(${JSON.stringify(queue)})`;
  // Deno prints a proxy by its target: name it there.
  const target = Object.create(null);
  Object.defineProperty(target, Symbol.for("Deno.customInspect"), {
    value: () => label,
  });
  return new Proxy(target, {
    get: (_target, name) => {
      if (typeof name === "symbol") {
        // Printing it, or turning it into a string, names it.
        if (name === Symbol.toStringTag) return label;
        if (name === Symbol.toPrimitive) return () => `[${label}]`;
        if (name === Symbol.for("Deno.customInspect")) {
          return Reflect.get(target, name);
        }
        return undefined;
      }
      // Not methods: `then` would make the object look like a promise to
      // `await`, `toJSON` is what JSON.stringify asks for, and the names
      // of Object.prototype are asked for by code that takes it for a
      // plain object. A call for each would go out unasked.
      if (name === "then" || name === "toJSON" || name in Object.prototype) {
        return undefined;
      }
      let caller = callers.get(name);
      if (caller === undefined) {
        caller = methodCaller(client, {
          queue,
          name,
          input: contractOf(
            contracts !== undefined && Object.hasOwn(contracts, name)
              ? contracts[name]
              : undefined,
          )?.input,
        });
        callers.set(name, caller);
      }
      return caller;
    },
  }) as ServiceClient<Service>;
}

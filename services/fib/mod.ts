/**
 * The tutorial's fib service as a handler module: what `deno task server`
 * serves by default, and a model for your own. Every exported function is
 * a method; `defaultMethod` names the one that answers requests naming no
 * method, as the tutorial's clients send them.
 *
 *     deno task server --handler ./services/fib/mod.ts
 *
 * @module
 */

import { fibMethod } from "./method.ts";
import type { RpcMethod } from "../../mod.ts";

/**
 * fib(n) in decimal, for n as a JSON number or as the tutorial's text.
 *
 * @example
 * ```ts ignore
 * import { RpcClient } from "../../mod.ts";
 *
 * await using client = await RpcClient.connect();
 * const fib = client.method<number, string>("rpc_queue", "fib");
 * console.log(await fib(30)); // 832040
 * ```
 */
export const fib: RpcMethod<number | string | Uint8Array, string> = fibMethod();

/** Requests that name no method are fib's: the tutorial's wire format. */
export const defaultMethod = "fib";

import { h, put } from "./dom.js";

export function backtests(main) {
  put(main, h("h1", { id: "view-title", tabindex: "-1" }, "backtests"));
  return { destroy() {} };
}

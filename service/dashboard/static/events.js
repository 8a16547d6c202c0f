import { h, put } from "./dom.js";

export function events(main) {
  put(main, h("h1", { id: "view-title", tabindex: "-1" }, "events"));
  return { destroy() {} };
}

import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { changePassword } from "../../services/identity/account.ts";
import { actorOf, client } from "../common.ts";
import { ChangePasswordBody } from "./schema.ts";

export const changePasswordRoute = defineRoute({
  method: "post",
  path: "/v1/auth/password",
  tag: "auth",
  access: "user",
  summary: "Change the password (revokes every refresh token of the account)",
  body: ChangePasswordBody,
  responses: { 204: { description: "Changed" } },
  errors: ["invalid_credentials"],
  handle: async (c, deps) => {
    await changePassword(deps, actorOf(c), await readJson(c, ChangePasswordBody), client(c, deps));
    return c.body(null, 204);
  },
});

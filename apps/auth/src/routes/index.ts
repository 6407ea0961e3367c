import type { RouteDef } from "../openapi/route.ts";
import { listAuditRoute } from "./audit/list.ts";
import { changePasswordRoute } from "./auth/change-password.ts";
import { logInRoute } from "./auth/log-in.ts";
import { logOutRoute } from "./auth/log-out.ts";
import { oauth2LogInRoute, oauth2ProvidersRoute } from "./auth/oauth2.ts";
import { refreshRoute } from "./auth/refresh.ts";
import { signUpRoute } from "./auth/sign-up.ts";
import { switchTenantRoute } from "./auth/switch-tenant.ts";
import { resolveKeyRoute, rotateSigningKeyRoute } from "./internal/routes.ts";
import {
  acceptInvitationRoute,
  createInvitationRoute,
  listInvitationsRoute,
  revokeInvitationRoute,
} from "./invitations/routes.ts";
import {
  createKeyRoute,
  getKeyRoute,
  listKeysRoute,
  revokeKeyRoute,
  rotateKeyRoute,
  updateKeyRoute,
} from "./keys/routes.ts";
import { meRoute } from "./me/get.ts";
import { changeRoleRoute, listMembersRoute, removeMemberRoute } from "./members/routes.ts";
import { getTenantRoute, updateTenantRoute } from "./tenants/routes.ts";
import { jwksRoute } from "./well-known/jwks.ts";

/** Every endpoint of the auth service; app.ts registers them and /openapi.json describes them. */
export const ROUTES: RouteDef[] = [
  signUpRoute,
  logInRoute,
  refreshRoute,
  logOutRoute,
  changePasswordRoute,
  switchTenantRoute,
  oauth2ProvidersRoute,
  oauth2LogInRoute,
  meRoute,
  getTenantRoute,
  updateTenantRoute,
  listMembersRoute,
  changeRoleRoute,
  removeMemberRoute,
  createInvitationRoute,
  listInvitationsRoute,
  revokeInvitationRoute,
  acceptInvitationRoute,
  createKeyRoute,
  listKeysRoute,
  getKeyRoute,
  updateKeyRoute,
  rotateKeyRoute,
  revokeKeyRoute,
  listAuditRoute,
  jwksRoute,
  resolveKeyRoute,
  rotateSigningKeyRoute,
];

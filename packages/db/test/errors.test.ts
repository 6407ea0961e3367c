import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";
import { describe, expect, it } from "vitest";
import { batchFailure, isUniqueViolation, toAppError } from "../src/errors.ts";

const responseError = (status: number, data: Record<string, unknown> = {}, message = "Something failed.") =>
  new ClientResponseError({ url: "http://pb/api/x", status, response: { status, message, data } });

describe("toAppError", () => {
  it("maps 404 to not_found", () => {
    const error = toAppError(responseError(404, {}, "The requested resource wasn't found."));
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe("not_found");
  });

  it("maps a 400 with field data to validation_failed naming the field", () => {
    const error = toAppError(
      responseError(400, { slug: { code: "validation_invalid_format", message: "Invalid value format." } }),
    );
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe("slug: Invalid value format.");
    expect(error.details).toEqual({
      field: "slug",
      reason: "validation_invalid_format",
      fields: [{ field: "slug", reason: "validation_invalid_format" }],
    });
  });

  it("maps a unique index violation to conflict naming the field", () => {
    const error = toAppError(
      responseError(400, { slug: { code: "validation_not_unique", message: "Value must be unique." } }),
    );
    expect(error.code).toBe("conflict");
    expect(error.details).toEqual({ field: "slug" });
  });

  it("maps an unreachable server to service_unavailable and keeps the cause out of details", () => {
    const network = new ClientResponseError(new TypeError("fetch failed"));
    const error = toAppError(network);
    expect(error.code).toBe("service_unavailable");
    expect(error.details).toEqual({});
    expect(error.cause).toBe(network);
  });

  it("maps 5xx and 429 to service_unavailable, a refused session to internal_error", () => {
    expect(toAppError(responseError(500)).code).toBe("service_unavailable");
    expect(toAppError(responseError(429)).code).toBe("service_unavailable");
    const refused = toAppError(responseError(403, {}, "Only superusers can perform this action."));
    expect(refused.code).toBe("internal_error");
    expect(refused.message).not.toContain("superusers");
  });

  it("maps a failed batch by the request that failed it and names its index", () => {
    const error = responseError(
      400,
      {
        requests: {
          "3": {
            code: "batch_request_failed",
            message: "Batch request failed.",
            response: {
              status: 400,
              message: "Failed to create record.",
              data: { event_id: { code: "validation_not_unique", message: "Value must be unique." } },
            },
          },
        },
      },
      "Batch transaction failed.",
    );
    expect(batchFailure(error)).toMatchObject({ index: 3, status: 400 });
    const mapped = toAppError(error);
    expect(mapped.code).toBe("conflict");
    expect(mapped.details).toEqual({ field: "event_id", batch_index: 3 });
  });

  it("passes AppErrors through and hides unknown errors as internal_error", () => {
    const own = new AppError("forbidden", "no");
    expect(toAppError(own)).toBe(own);
    const unknown = toAppError(new Error("secret detail"));
    expect(unknown.code).toBe("internal_error");
    expect(unknown.message).not.toContain("secret");
  });
});

describe("isUniqueViolation", () => {
  it("recognises a unique violation, optionally on one field", () => {
    const error = responseError(400, { event_id: { code: "validation_not_unique", message: "" } });
    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(error, "event_id")).toBe(true);
    expect(isUniqueViolation(error, "slug")).toBe(false);
    expect(
      isUniqueViolation(responseError(400, { slug: { code: "validation_required", message: "" } })),
    ).toBe(false);
  });
});

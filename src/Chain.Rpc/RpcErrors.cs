using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>Error responses: always JSON <c>{"error": message, "code": optional}</c> with the right status.</summary>
internal static class RpcErrors
{
    public static IResult Json(object body, int status = StatusCodes.Status200OK) => Results.Json(body, RpcJson.Options, statusCode: status);

    public static IResult BadRequest(string message) => Error(StatusCodes.Status400BadRequest, message, "bad_request");
    public static IResult NotFound(string message) => Error(StatusCodes.Status404NotFound, message, "not_found");
    public static IResult TooLarge(string message) => Error(StatusCodes.Status413PayloadTooLarge, message, "too_large");
    public static IResult Unavailable(string message) => Error(StatusCodes.Status503ServiceUnavailable, message, "unavailable");

    /// <summary>405: the path exists, the method does not; <c>Allow</c> lists the methods it takes.</summary>
    public static IResult MethodNotAllowed(HttpContext context, IReadOnlyList<string> allowed)
    {
        string methods = string.Join(", ", allowed);
        context.Response.Headers.Allow = methods;
        return Error(StatusCodes.Status405MethodNotAllowed, $"{context.Request.Method} is not taken here; this path takes {methods}", "method_not_allowed");
    }

    public static IResult Error(int status, string message, string? code) => Json(new ErrorResponse(message, code), status);

    /// <summary>Error messages are one line: some carry a runtime's or parser's multi-line text.</summary>
    public static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

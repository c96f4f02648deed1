using System.ComponentModel.DataAnnotations;

namespace Marquee.Platform.Web;

/// <summary>
/// DataAnnotations validation for minimal API bodies, answered as an RFC 9457 validation problem (400) before
/// the handler runs. (ASP.NET Core 10's generated validation skips internal types, and module types are internal.)
/// </summary>
public static class Validation
{
    public static RouteHandlerBuilder Validate<T>(this RouteHandlerBuilder builder)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .AddEndpointFilter(async (context, next) =>
            {
                var argument = context.Arguments.OfType<T>().FirstOrDefault();
                if (argument is null)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["A request body is required."] });
                }

                var errors = Errors(argument);
                return errors.Count > 0 ? TypedResults.ValidationProblem(errors) : await next(context);
            })
            .ProducesValidationProblem();
    }

    public static Dictionary<string, string[]> Errors(object instance)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true);
        return results
            .SelectMany(r => (r.MemberNames.Any() ? r.MemberNames : [""]).Select(m => (Member: m, Message: r.ErrorMessage ?? "Invalid.")))
            .GroupBy(x => x.Member)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Message).ToArray());
    }
}

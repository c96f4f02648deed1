using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Identity.Risk.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class SignUpRisk : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "risk");

            migrationBuilder.CreateTable(
                name: "inbox",
                schema: "risk",
                columns: table => new
                {
                    MessageId = table.Column<Guid>(type: "uuid", nullable: false),
                    Handler = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_inbox", x => new { x.MessageId, x.Handler });
                });

            migrationBuilder.CreateTable(
                name: "outbox",
                schema: "risk",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    EventName = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Payload = table.Column<string>(type: "text", nullable: false),
                    OccurredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Attempts = table.Column<int>(type: "integer", nullable: false),
                    NextAttemptAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LockedUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    DeliveredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    FailedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastError = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "sign_up_decisions",
                schema: "risk",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Email = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Ip = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Subnet = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Fingerprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    UserAgent = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: true),
                    Score = table.Column<int>(type: "integer", nullable: false),
                    Outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Reasons = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    HeldUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sign_up_decisions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_outbox_DeliveredAt_FailedAt_NextAttemptAt",
                schema: "risk",
                table: "outbox",
                columns: new[] { "DeliveredAt", "FailedAt", "NextAttemptAt" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_up_decisions_At",
                schema: "risk",
                table: "sign_up_decisions",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_sign_up_decisions_Email_At",
                schema: "risk",
                table: "sign_up_decisions",
                columns: new[] { "Email", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_up_decisions_Fingerprint_At",
                schema: "risk",
                table: "sign_up_decisions",
                columns: new[] { "Fingerprint", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_up_decisions_Ip_At",
                schema: "risk",
                table: "sign_up_decisions",
                columns: new[] { "Ip", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_up_decisions_Subnet_At",
                schema: "risk",
                table: "sign_up_decisions",
                columns: new[] { "Subnet", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "inbox",
                schema: "risk");

            migrationBuilder.DropTable(
                name: "outbox",
                schema: "risk");

            migrationBuilder.DropTable(
                name: "sign_up_decisions",
                schema: "risk");
        }
    }
}

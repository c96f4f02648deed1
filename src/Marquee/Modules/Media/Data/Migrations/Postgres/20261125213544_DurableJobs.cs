using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Media.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class DurableJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "Attempts",
                schema: "media",
                table: "assets",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<bool>(
                name: "CancelRequested",
                schema: "media",
                table: "assets",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "LeaseExpiresAt",
                schema: "media",
                table: "assets",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LeaseOwner",
                schema: "media",
                table: "assets",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "NotBefore",
                schema: "media",
                table: "assets",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Priority",
                schema: "media",
                table: "assets",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ProgressAt",
                schema: "media",
                table: "assets",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressFps",
                schema: "media",
                table: "assets",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressPercent",
                schema: "media",
                table: "assets",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ProgressRemainingMs",
                schema: "media",
                table: "assets",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ProgressSpeed",
                schema: "media",
                table: "assets",
                type: "double precision",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_assets_State_Priority_CreatedAt",
                schema: "media",
                table: "assets",
                columns: new[] { "State", "Priority", "CreatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_assets_State_Priority_CreatedAt",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "Attempts",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "CancelRequested",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "LeaseExpiresAt",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "LeaseOwner",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "NotBefore",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "Priority",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "ProgressAt",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "ProgressFps",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "ProgressPercent",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "ProgressRemainingMs",
                schema: "media",
                table: "assets");

            migrationBuilder.DropColumn(
                name: "ProgressSpeed",
                schema: "media",
                table: "assets");
        }
    }
}

using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Billing.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class FraudAndCoupons : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "CouponId",
                schema: "billing",
                table: "subscriptions",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CouponPeriodsLeft",
                schema: "billing",
                table: "subscriptions",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "Discount",
                schema: "billing",
                table: "invoices",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "coupon_redemptions",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    CouponId = table.Column<Guid>(type: "uuid", nullable: false),
                    AccountId = table.Column<Guid>(type: "uuid", nullable: false),
                    SubscriptionId = table.Column<Guid>(type: "uuid", nullable: true),
                    InvoiceId = table.Column<Guid>(type: "uuid", nullable: true),
                    PromoCode = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_coupon_redemptions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "coupons",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Code = table.Column<string>(type: "character varying(60)", maxLength: 60, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    PercentOff = table.Column<decimal>(type: "numeric(5,2)", precision: 5, scale: 2, nullable: true),
                    Duration = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    Periods = table.Column<int>(type: "integer", nullable: true),
                    MaxRedemptions = table.Column<int>(type: "integer", nullable: true),
                    MaxPerAccount = table.Column<int>(type: "integer", nullable: true),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Plans = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    Active = table.Column<bool>(type: "boolean", nullable: false),
                    Redeemed = table.Column<int>(type: "integer", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_coupons", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "fraud_assessments",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    AccountId = table.Column<Guid>(type: "uuid", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Purpose = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Amount = table.Column<long>(type: "bigint", nullable: false),
                    Currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    Ip = table.Column<string>(type: "character varying(45)", maxLength: 45, nullable: true),
                    IpCountry = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: true),
                    CardFingerprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    CardCountry = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: true),
                    AccountCountry = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: true),
                    AccountAttempts = table.Column<int>(type: "integer", nullable: false),
                    IpAttempts = table.Column<int>(type: "integer", nullable: false),
                    SmallCharges = table.Column<int>(type: "integer", nullable: false),
                    DistinctCards = table.Column<int>(type: "integer", nullable: false),
                    AccountAgeHours = table.Column<double>(type: "double precision", nullable: false),
                    DisposableEmail = table.Column<bool>(type: "boolean", nullable: false),
                    Score = table.Column<int>(type: "integer", nullable: false),
                    ModelProbability = table.Column<double>(type: "double precision", nullable: true),
                    Decision = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    Reasons = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    PaymentId = table.Column<Guid>(type: "uuid", nullable: true),
                    Label = table.Column<string>(type: "character varying(12)", maxLength: 12, nullable: true),
                    LabelledBy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    LabelledAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_fraud_assessments", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "fraud_models",
                schema: "billing",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TrainedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Labels = table.Column<int>(type: "integer", nullable: false),
                    Frauds = table.Column<int>(type: "integer", nullable: false),
                    Bytes = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_fraud_models", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "promo_codes",
                schema: "billing",
                columns: table => new
                {
                    Code = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    CouponId = table.Column<Guid>(type: "uuid", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_promo_codes", x => x.Code);
                });

            migrationBuilder.CreateTable(
                name: "coupon_amounts",
                schema: "billing",
                columns: table => new
                {
                    CouponId = table.Column<Guid>(type: "uuid", nullable: false),
                    Currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    Amount = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_coupon_amounts", x => new { x.CouponId, x.Currency });
                    table.ForeignKey(
                        name: "FK_coupon_amounts_coupons_CouponId",
                        column: x => x.CouponId,
                        principalSchema: "billing",
                        principalTable: "coupons",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_coupon_redemptions_CouponId_AccountId",
                schema: "billing",
                table: "coupon_redemptions",
                columns: new[] { "CouponId", "AccountId" });

            migrationBuilder.CreateIndex(
                name: "IX_coupon_redemptions_InvoiceId",
                schema: "billing",
                table: "coupon_redemptions",
                column: "InvoiceId");

            migrationBuilder.CreateIndex(
                name: "IX_coupons_Code",
                schema: "billing",
                table: "coupons",
                column: "Code",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_fraud_assessments_AccountId_At",
                schema: "billing",
                table: "fraud_assessments",
                columns: new[] { "AccountId", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_fraud_assessments_At",
                schema: "billing",
                table: "fraud_assessments",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_fraud_assessments_Ip_At",
                schema: "billing",
                table: "fraud_assessments",
                columns: new[] { "Ip", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_fraud_assessments_PaymentId",
                schema: "billing",
                table: "fraud_assessments",
                column: "PaymentId");

            migrationBuilder.CreateIndex(
                name: "IX_fraud_models_TrainedAt",
                schema: "billing",
                table: "fraud_models",
                column: "TrainedAt");

            migrationBuilder.CreateIndex(
                name: "IX_promo_codes_CouponId",
                schema: "billing",
                table: "promo_codes",
                column: "CouponId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "coupon_amounts",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "coupon_redemptions",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "fraud_assessments",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "fraud_models",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "promo_codes",
                schema: "billing");

            migrationBuilder.DropTable(
                name: "coupons",
                schema: "billing");

            migrationBuilder.DropColumn(
                name: "CouponId",
                schema: "billing",
                table: "subscriptions");

            migrationBuilder.DropColumn(
                name: "CouponPeriodsLeft",
                schema: "billing",
                table: "subscriptions");

            migrationBuilder.DropColumn(
                name: "Discount",
                schema: "billing",
                table: "invoices");
        }
    }
}
